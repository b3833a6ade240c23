import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
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

  it("leaves no copy of the password, nor of any hash on the way to the key, once the caller wipes the key", async () => {
    const password = bmpPassword(Buffer.from("hunter2-correct-horse"));
    const salt = Buffer.from("0102030405060708", "hex");
    // Both output blocks whole (the 3DES key is 24 of their 40 bytes); any hash of the chain leads to them.
    const blocks = await pkcs12DeriveBytes("sha1", password, salt, 50, 1, 40);
    const made: Buffer[] = [];
    const keep = <T extends (...args: never[]) => Buffer>(f: T) => ((...args: Parameters<T>) => {
      const b = f(...args);
      made.push(b);
      return b;
    }) as T;
    const hashPrototype = Object.getPrototypeOf(createHash("sha1")) as { digest: (...a: never[]) => Buffer };
    const original = keep(Buffer.alloc.bind(Buffer));
    const alloc = vi.spyOn(Buffer, "alloc").mockImplementation(original);
    const digest = hashPrototype.digest;
    const digests = vi.spyOn(hashPrototype, "digest").mockImplementation(function (this: unknown, ...args: never[]) {
      const b = digest.apply(this, args);
      made.push(b);
      return b;
    });
    let key: Buffer;
    try {
      key = await pkcs12DeriveBytes("sha1", password, salt, 50, 1, 24);
    } finally {
      alloc.mockRestore();
      digests.mockRestore();
    }
    expect(key.equals(blocks.subarray(0, 24))).toBe(true);
    key.fill(0); // what pbeDecrypt does
    expect(made.length).toBeGreaterThan(100);
    const passwordStart = password.subarray(0, 8);
    const left = made.filter((b) => b.includes(passwordStart) || [0, 8, 16, 24, 32].some((i) => b.includes(blocks.subarray(i, i + 8))));
    expect(left.length).toBe(0);
    // Each hash of the chain (A = H^c(D ‖ I)) is as good as the key: one left, and hashing it on gives the key.
    const chain = made.filter((b) => b.length === 20 && !b.every((x) => x === 0));
    expect(chain.length).toBe(0);
  });

  it("makes the BMP form in one buffer, straight from the bytes: no JS string of the password (it cannot be wiped)", () => {
    const password = Buffer.from("pässwörd-\u{1f511}-correct-horse");
    const strings = vi.spyOn(Buffer.prototype, "toString");
    const made: Buffer[] = [];
    const from = Buffer.from.bind(Buffer) as (...a: unknown[]) => Buffer;
    const froms = vi.spyOn(Buffer, "from").mockImplementation(((...args: unknown[]) => {
      const b = from(...args);
      made.push(b);
      return b;
    }) as typeof Buffer.from);
    let bmp: Buffer;
    try {
      bmp = bmpPassword(password);
      expect(strings).not.toHaveBeenCalled();
    } finally {
      strings.mockRestore();
      froms.mockRestore();
    }
    expect(bmp.toString("hex")).toBe(`${Buffer.from("pässwörd-\u{1f511}-correct-horse", "utf16le").swap16().toString("hex")}0000`);
    bmp.fill(0);
    expect(made.filter((b) => !b.every((x) => x === 0))).toEqual([]);
  });

  it("takes bytes that are not UTF-8 one each as U+0000–U+00FF, as OpenSSL does (OPENSSL_utf82uni)", () => {
    // Each is cut short, overlong, a stray continuation byte, past U+10FFFF or a surrogate (Java's modified UTF-8).
    for (const hex of ["70e970", "c0af", "e282", "80", "f4908080", "f880808080", "61eda08062", "edbfbf"]) {
      const bytes = Buffer.from(hex, "hex");
      expect(bmpPassword(bytes).toString("hex")).toBe(`${[...bytes].map((b) => `00${b.toString(16).padStart(2, "0")}`).join("")}0000`);
    }
    expect(bmpPassword(Buffer.from("f09f9491", "hex")).toString("hex")).toBe("d83ddd110000"); // U+1F511: a surrogate pair
  });

  it("encodes passwords as UTF-16BE with a NUL terminator", () => {
    expect(bmpPassword(Buffer.from("ab")).toString("hex")).toBe("006100620000");
    expect(bmpPassword(Buffer.from("é")).toString("hex")).toBe("00e90000");
  });
});
