/** The CA bundle is read from the file that was checked, not opened by name again (ca-bundle.ts). */
import { afterAll, describe, expect, it, vi } from "vitest";
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trustWithCaBundle } from "../../src/rolesanywhere/ca-bundle.js";
import { createCa, makeTempDir } from "../helpers/pki.js";

// The real checks, with a hook run right after the bundle's check returns: where a swap of the file can fall.
const hook = vi.hoisted(() => ({ afterCheck: undefined as (() => void) | undefined }));
vi.mock("../../src/io/trusted-path.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/io/trusted-path.js")>();
  const then = <T>(result: T): T => {
    const run = hook.afterCheck;
    hook.afterCheck = undefined;
    run?.();
    return result;
  };
  return {
    ...real,
    checkTrustedFile: (...args: Parameters<typeof real.checkTrustedFile>) => then(real.checkTrustedFile(...args)),
    openCheckedFile: (...args: Parameters<typeof real.openCheckedFile>) => then(real.openCheckedFile(...args)),
  };
});

const { dir, cleanup } = makeTempDir("raa-ca-swap-");
afterAll(cleanup);

describe("the CA bundle", () => {
  it("is read from the file that was checked, even when the name is pointed at another file right after the check", async () => {
    // Before: checked by path, then opened by name again: the file put in its place (writable by anyone) was read.
    chmodSync(dir, 0o700);
    const bundle = join(dir, "bundle.pem");
    writeFileSync(bundle, createCa(join(dir, "ca"), { name: "Checked CA" }).certPem, { mode: 0o600 });
    const swapped = join(dir, "swapped.pem");
    writeFileSync(swapped, "not the checked bundle\n");
    chmodSync(swapped, 0o666);
    hook.afterCheck = () => renameSync(swapped, bundle);
    await expect(trustWithCaBundle(bundle, "--ca-bundle")).resolves.toBeDefined();
    expect(hook.afterCheck).toBeUndefined(); // the swap did happen, between the check and the read
    // The file now at that name is refused by the check, as it always was.
    await expect(trustWithCaBundle(bundle, "--ca-bundle")).rejects.toMatchObject({ code: "FILE_UNSAFE" });
  });
});
