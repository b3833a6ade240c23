/** The CA bundle is held to the config file's rule (ca-bundle.ts): whoever can change it could add a CA. */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { trustWithCaBundle } from "../../src/rolesanywhere/ca-bundle.js";
import { createCa, makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-ca-bundle-");
chmodSync(dir, 0o700);
afterAll(cleanup);
const ca = readFileSync(createCa(join(dir, "ca"), { name: "Bundle CA" }).certPath, "utf8");
const bundle = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
};

describe("trustWithCaBundle", () => {
  it("takes a bundle only this user (or root) can change", async () => {
    await expect(trustWithCaBundle(bundle("mine.pem", ca), "--ca-bundle")).resolves.toBeDefined();
  });

  it.runIf(process.getuid?.() === 0)("refuses one others may write or own, naming where it came from (before any read)", async () => {
    const writable = bundle("writable.pem", ca, 0o666);
    await expect(trustWithCaBundle(writable, "--ca-bundle")).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: expect.stringMatching(new RegExp(`^CA bundle ${writable} was not used: .*mode 666`)),
    });
    const theirs = bundle("theirs.pem", ca);
    chownSync(theirs, 65534, 65534);
    await expect(trustWithCaBundle(theirs, "AWS_CA_BUNDLE")).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: expect.stringMatching(new RegExp(`^CA bundle \\(AWS_CA_BUNDLE\\) ${theirs} was not used: .*uid 65534`)),
    });
    const open = join(dir, "open");
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const inOpen = join(open, "ca.pem");
    writeFileSync(inOpen, ca, { mode: 0o600 });
    await expect(trustWithCaBundle(inOpen, "--ca-bundle")).rejects.toMatchObject({ code: "FILE_UNSAFE" });
  });

  it("names which certificate of the bundle cannot be parsed", async () => {
    const broken = bundle("broken.pem", `${ca}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    await expect(trustWithCaBundle(broken, "--ca-bundle")).rejects.toMatchObject({
      code: "PEM_INVALID",
      message: `CA bundle ${broken}: certificate 2 of 2 cannot be parsed`,
    });
  });
});
