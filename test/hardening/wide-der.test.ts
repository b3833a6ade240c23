/**
 * Wide DER: one SEQUENCE of 4 million NULLs (8 MiB, under the 16 MiB input limit). Read element by element into an
 * array, that was a gigabyte of objects per reader (and the key path reads it several times): with a 256 MiB heap,
 * as on a small gateway, the CLI aborted (signal 6, exit 134, "heap out of memory"). The CLI runs in a child process,
 * bundled from src/ as in hostile-keys.test.ts, with that heap.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleCliInto } from "../helpers/bundle-cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { children, DerError, readSingle } from "../../src/encoding/der.js";
import { derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { makeTempDir } from "../helpers/pki.js";

const NULLS = 4 * 1024 * 1024;
const sequence = (content: Buffer) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(content.length);
  return Buffer.concat([Buffer.from([0x30, 0x84]), length, content]);
};
const nulls = Buffer.alloc(NULLS * 2);
for (let i = 0; i < nulls.length; i += 2) nulls[i] = 0x05;

/** An ENCRYPTED PRIVATE KEY (PBES2, PBKDF2, AES-256-CBC) whose PBKDF2-params hold a salt, then millions of NULLs. */
const encryptedWide = () => {
  const pbkdf2 = derSequence(derOid("1.2.840.113549.1.5.12"), derSequence(derTlv(0x04, Buffer.alloc(8, 1)), nulls));
  const aes = derSequence(derOid("2.16.840.1.101.3.4.1.42"), derTlv(0x04, Buffer.alloc(16)));
  return derSequence(derSequence(derOid("1.2.840.113549.1.5.13"), derSequence(pbkdf2, aes)), derTlv(0x04, Buffer.alloc(32)));
};

describe("wide DER", () => {
  const tmp = makeTempDir("raa-wide-der-");
  let cli: string;
  beforeAll(async () => {
    cli = await bundleCliInto(tmp.dir);
  }, 120_000);
  afterAll(() => tmp.cleanup());

  it("children stops reading at the element past its bound (10,000 unless told: the reader's limit, not a rule of DER)", () => {
    const wide = readSingle(sequence(nulls));
    expect(() => children(wide)).toThrow(new DerError("more than 10,000 elements in one list", "limit"));
    // The elements after the bound are not read: a truncated one there does not change the answer.
    const cut = readSingle(sequence(Buffer.concat([Buffer.from("050005000500", "hex"), Buffer.from([0x04, 0x82, 0x01])])));
    expect(() => children(cut, 2)).toThrow(new DerError("3 elements where at most 2 belong"));
  });

  it.each([
    ["--private-key", "a SEQUENCE of NULLs", () => sequence(nulls)],
    ["--private-key", "an EC PRIVATE KEY's outline (INTEGER 1, OCTET STRING) then NULLs", () => sequence(Buffer.concat([Buffer.from("020101040101", "hex"), nulls]))],
    ["--certificate", "a SEQUENCE of NULLs", () => sequence(nulls)],
    ["--private-key", "an encrypted key whose PBKDF2 parameters are NULLs after the salt", () => encryptedWide()],
  ])("%s holding %s: one line, exit 3, not an abort for want of memory", (option, _, bytes) => {
    const file = join(tmp.dir, "wide.der");
    writeFileSync(file, bytes());
    chmodSync(file, 0o600);
    const r = spawnSync(process.execPath, ["--max-old-space-size=256", cli, "sign-string", option, file, "--pkcs8-password-env", "PW"], {
      encoding: "utf8",
      timeout: 90_000,
      env: { ...process.env, PW: "password" },
    });
    expect([r.signal, r.status]).toEqual([null, 3]);
    expect(r.stderr).toMatch(/^roles-anywhere-agent: [^\n]+\n$/);
  }, 120_000);
});
