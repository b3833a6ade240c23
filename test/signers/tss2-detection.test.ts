/**
 * Whether a key file is a TSS2 key (containsTss2Key, src/tpm/keys/tss2-detect.ts) is asked by doctor and
 * install-certificate and by the factory, which sends the key to the TPM signer on it. They must agree on every file:
 * else doctor or install-certificate judges a file one way and the signer takes it the other. Here the factory's
 * verdict is where it sends the key (the TPM signer is a stand-in).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it, vi } from "vitest";
import { containsTss2Key } from "../../src/tpm/keys/tss2-key-file.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const ROUTED = "sent to the TPM signer";
vi.mock("../../src/signers/tpm/tpm-signer.js", async (actual) => ({
  ...(await actual<object>()),
  openTpmSigner: async () => {
    throw new Error(ROUTED);
  },
}));
const { createSigner } = await import("../../src/signers/factory.js");

const { dir, cleanup } = makeTempDir("raa-tss2-detection-");
afterAll(cleanup);
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "TSS2 Detection CA" }), dir, { name: "tss2-detection" });

const MARKER = "-----BEGIN TSS2 PRIVATE KEY-----";
const keyPath = join(dir, "key");

/** Whether the factory sends the key file holding `bytes` to the TPM signer, or to the TSS2 reader, which refuses it first. */
async function factorySaysTss2(bytes: Uint8Array): Promise<boolean> {
  writeFileSync(keyPath, bytes, { mode: 0o600 });
  try {
    await createSigner({ certificate: leaf.certPath, privateKey: keyPath });
    return false;
  } catch (error) {
    const { message } = error as Error;
    return message === ROUTED || message.startsWith(`TPM key file ${keyPath}: `);
  }
}

const bytesOf = (text: string, encoding: BufferEncoding = "latin1") => Buffer.from(text, encoding);

describe("TSS2 key detection: containsTss2Key and the factory's copy agree", () => {
  it.each([
    ["the marker first", bytesOf(`${MARKER}\nMAA=\n-----END TSS2 PRIVATE KEY-----\n`), true],
    ["the marker last, nothing after it", bytesOf(`text\n${MARKER}`), true],
    ["after binary bytes and a NUL", Buffer.concat([Buffer.from([0x30, 0x82, 0xff, 0x00, 0x2d]), bytesOf(MARKER)]), true],
    ["after UTF-8 text that is not latin1", Buffer.concat([bytesOf("clé ✓\n", "utf8"), bytesOf(MARKER)]), true],
    ["a partial marker, then the whole one", bytesOf(`-----BEGIN TSS2 PRIV${MARKER}`), true],
    ["one dash short", bytesOf(MARKER.slice(0, -1)), false],
    ["one dash short at the start", bytesOf(MARKER.slice(1)), false],
    ["in lower case", bytesOf(MARKER.toLowerCase()), false],
    ["split by a line break", bytesOf(MARKER.replace("TSS2 ", "TSS2\n")), false],
    ["in UTF-16", bytesOf(MARKER, "utf16le"), false],
    ["the legacy TSS2 KEY BLOB (refused by the TSS2 reader, by name)", bytesOf("-----BEGIN TSS2 KEY BLOB-----\nMAA=\n-----END TSS2 KEY BLOB-----\n"), true],
    ["a PKCS#8 PEM label", bytesOf("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"), false],
    ["empty", Buffer.alloc(0), false],
    // DER, as tpm2-openssl reads it too: SEQUENCE (short, long or indefinite length), then OID 2.23.133.10.1.x.
    ["a DER TSS2 key", Buffer.from("3081f006066781050a0103a0030101ff", "hex"), true],
    ["a DER TSS2 key, two length octets", Buffer.from("308201f006066781050a0103a0030101ff", "hex"), true],
    ["a DER importable key (2.23.133.10.1.4: refused there, by name)", Buffer.from("3010" + "06066781050a0104", "hex"), true],
    ["a DER TSS2 key cut inside its OID", Buffer.from("301006066781050a", "hex"), false],
    ["DER whose OID is another (rsaEncryption)", Buffer.from("3010" + "06092a864886f70d010101", "hex"), false],
    ["a DER PKCS#8 key's start (INTEGER version first)", Buffer.from("308187020100301306072a8648ce3d0201", "hex"), false],
  ])("%s", async (_, bytes, tss2) => {
    expect(containsTss2Key(bytes)).toBe(tss2);
    expect(await factorySaysTss2(bytes)).toBe(tss2);
  });

  it("on files made of pieces of the marker and other bytes", async () => {
    const piece = fc.oneof(
      fc.constantFrom(MARKER, MARKER.slice(0, 12), MARKER.slice(12), "-", "-----", "\n", "\r\n", "é", "\u0000").map((t) => bytesOf(t)),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (pieces) => {
        const bytes = Buffer.concat(pieces);
        expect(await factorySaysTss2(bytes)).toBe(containsTss2Key(bytes));
      }),
      { numRuns: 300 },
    );
  });
});
