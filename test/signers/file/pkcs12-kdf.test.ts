import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bmpPassword, pkcs12DeriveBytes, type Pkcs12Hash } from "../../../src/signers/file/pkcs12-kdf.js";

/** OpenSSL's own PKCS12KDF (`openssl kdf`), which takes the password bytes as given. */
function opensslKdf(hash: Pkcs12Hash, password: Buffer, salt: Buffer, iterations: number, id: number, length: number): Buffer {
  const out = execFileSync("openssl", [
    "kdf", "-binary", "-keylen", String(length), "-kdfopt", `digest:${hash.toUpperCase()}`,
    "-kdfopt", `hexpass:${password.toString("hex")}`, "-kdfopt", `hexsalt:${salt.toString("hex")}`,
    "-kdfopt", `iter:${iterations}`, "-kdfopt", `id:${id}`, "PKCS12KDF",
  ]);
  return out;
}

describe("PKCS#12 KDF (RFC 7292 B.2)", () => {
  const cases: [string, Pkcs12Hash, Buffer, Buffer, number, number, number][] = [
    ["3DES key, SHA-1, BMP password", "sha1", bmpPassword(Buffer.from("test")), Buffer.from("0102030405060708", "hex"), 2048, 1, 24],
    ["IV, SHA-1", "sha1", bmpPassword(Buffer.from("test")), Buffer.from("0102030405060708", "hex"), 2048, 2, 8],
    ["MAC key, SHA-256", "sha256", bmpPassword(Buffer.from("pässwörd")), Buffer.from("a1b2c3d4e5f60718", "hex"), 2048, 3, 32],
    ["several output blocks, long password (carry), SHA-512", "sha512", bmpPassword(Buffer.from("x".repeat(100))), Buffer.from("0102030405060708090a", "hex"), 3, 3, 150],
    ["empty BMP password (NUL terminator only)", "sha1", bmpPassword(Buffer.alloc(0)), Buffer.from("0102", "hex"), 1, 3, 20],
    ["SHA-384", "sha384", bmpPassword(Buffer.from("p")), Buffer.from("00".repeat(20), "hex"), 5, 1, 48],
  ];
  it.each(cases)("%s matches openssl", async (_name, hash, password, salt, iterations, id, length) => {
    expect((await pkcs12DeriveBytes(hash, password, salt, iterations, id, length)).toString("hex")).toBe(
      opensslKdf(hash, password, salt, iterations, id, length).toString("hex"),
    );
  });

  it("gives the event loop a turn while it works (a file may ask for 10,000,000 iterations, ~13 s)", async () => {
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    try {
      await pkcs12DeriveBytes("sha256", bmpPassword(Buffer.from("p")), Buffer.alloc(8), 100_000, 3, 32);
    } finally {
      clearInterval(timer);
    }
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it("encodes passwords as UTF-16BE with a NUL terminator", () => {
    expect(bmpPassword(Buffer.from("ab")).toString("hex")).toBe("006100620000");
    expect(bmpPassword(Buffer.from("é")).toString("hex")).toBe("00e90000");
  });
});
