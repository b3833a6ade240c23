/**
 * Every key a password derives (PBKDF2, scrypt, the PKCS#12 KDF for a 3DES bag or the MAC) and every encoding of
 * the password made on the way is zero once the file is read, whether the password was right or wrong: what the
 * derivations returned is recorded (node:crypto and pkcs12-kdf.js wrapped, their results unchanged).
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { encryptPkcs8 } from "../../helpers/pbes2-encrypt.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";
import { run } from "./fixtures.js";

const made = vi.hoisted(() => ({ keys: [] as Buffer[], ivs: [] as Buffer[], passwords: [] as Buffer[] }));

vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof import("node:crypto")>();
  type Done = (error: Error | null, key: Buffer) => void;
  const keeping = (done: Done): Done => (error, key) => {
    if (key) made.keys.push(key);
    done(error, key);
  };
  const pbkdf2 = ((...args: unknown[]) => {
    const done = args.pop() as Done;
    return (crypto.pbkdf2 as (...a: unknown[]) => void)(...args, keeping(done));
  }) as typeof crypto.pbkdf2;
  const scrypt = ((...args: unknown[]) => {
    const done = args.pop() as Done;
    return (crypto.scrypt as (...a: unknown[]) => void)(...args, keeping(done));
  }) as typeof crypto.scrypt;
  return { ...crypto, default: { ...crypto, pbkdf2, scrypt }, pbkdf2, scrypt };
});
vi.mock("../../../src/signers/file/pkcs12-kdf.js", async (importOriginal) => {
  const kdf = await importOriginal<typeof import("../../../src/signers/file/pkcs12-kdf.js")>();
  return {
    ...kdf,
    // The 3DES IV (id 2) too: PBES2 files carry theirs in clear, but this one is derived from the password, which
    // it lets an attacker test offline as well as the key does.
    pkcs12DeriveBytes: async (...args: Parameters<typeof kdf.pkcs12DeriveBytes>) => {
      const out = await kdf.pkcs12DeriveBytes(...args);
      (args[4] === kdf.PKCS12_KEY_ID.iv ? made.ivs : made.keys).push(out);
      return out;
    },
    bmpPassword: (utf8: Buffer) => {
      const out = kdf.bmpPassword(utf8);
      made.passwords.push(out);
      return out;
    },
  };
});
const { decryptPrivateKeyInfo } = await import("../../../src/signers/file/pbe.js");
const { readPkcs12 } = await import("../../../src/signers/file/pkcs12.js");
const { bmpPassword } = await vi.importActual<typeof import("../../../src/signers/file/pkcs12-kdf.js")>("../../../src/signers/file/pkcs12-kdf.js");
const bmpPasswordOf = (text: string) => bmpPassword(Buffer.from(text));

const PASSWORD = "kdf-wiping correct horse";
const tmp = makeTempDir("raa-kdf-wiping-");
afterAll(tmp.cleanup);
beforeEach(() => {
  made.keys.length = 0;
  made.ivs.length = 0;
  made.passwords.length = 0;
});

/**
 * Runs `fn`, recording each buffer Buffer.from makes that holds `text`'s UTF-8 bytes (a copy of the password) when
 * made, when wiped, or after: secret bytes (src/secrets/secret-bytes.ts) are made empty and written after.
 */
async function copiesOf<T>(text: string, fn: () => Promise<T>): Promise<{ result: T | unknown; copies: Buffer[] }> {
  const wanted = Buffer.from(text);
  const made: Buffer[] = [];
  const held = new Set<Buffer>();
  const from = Buffer.from.bind(Buffer) as (...a: unknown[]) => Buffer;
  const spy = vi.spyOn(Buffer, "from").mockImplementation(((...args: unknown[]) => {
    const b = from(...args);
    if (b.length === wanted.length) made.push(b);
    return b;
  }) as typeof Buffer.from);
  const fill = Buffer.prototype.fill;
  const fills = vi.spyOn(Buffer.prototype, "fill").mockImplementation(function (this: Buffer, ...args: unknown[]) {
    if (made.includes(this) && this.equals(wanted)) held.add(this);
    return fill.apply(this, args as Parameters<Buffer["fill"]>);
  });
  try {
    const result = await fn().catch((e: unknown) => e);
    return { result, copies: made.filter((b) => held.has(b) || b.equals(wanted)) };
  } finally {
    spy.mockRestore();
    fills.mockRestore();
  }
}

const zeroed = (buffers: Buffer[]) => buffers.filter((b) => !b.every((x) => x === 0)).map((b) => b.toString("hex"));
const context = { what: "PKCS#8 private key", source: "key.pem" };
const passwordOf = (text: string) => ({ utf8: Buffer.from(text), bmp: Buffer.alloc(0) });
const plain = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "der" });

describe("PBES2: the derived key is wiped", () => {
  it.each([
    ["PBKDF2", { kdf: "pbkdf2", prf: "sha256", cipher: "aes-256-cbc" }],
    ["scrypt", { kdf: "scrypt", N: 1024, cipher: "aes-128-cbc" }],
  ] as const)("%s, with the right password and with a wrong one", async (_name, options) => {
    const der = encryptPkcs8(plain, PASSWORD, options);
    const { plaintext } = await decryptPrivateKeyInfo(der, passwordOf(PASSWORD), context);
    expect(plaintext.equals(plain)).toBe(true);
    expect(made.keys).toHaveLength(1);
    expect(zeroed(made.keys)).toEqual([]);
    made.keys.length = 0;
    await expect(decryptPrivateKeyInfo(der, passwordOf("wrong"), context)).rejects.toMatchObject({ code: "PASSWORD_INCORRECT" });
    expect(made.keys).toHaveLength(1);
    expect(zeroed(made.keys)).toEqual([]);
  });
});

describe("bmpPassword: no copy of the password is left but the result (the caller's to wipe)", () => {
  it("leaves no copy of the password but the one it returns", async () => {
    const { bmp, copies } = await (async () => {
      const kdf = await vi.importActual<typeof import("../../../src/signers/file/pkcs12-kdf.js")>("../../../src/signers/file/pkcs12-kdf.js");
      const made: Buffer[] = [];
      const from = Buffer.from.bind(Buffer) as (...a: unknown[]) => Buffer;
      const spy = vi.spyOn(Buffer, "from").mockImplementation(((...args: unknown[]) => {
        const b = from(...args);
        made.push(b);
        return b;
      }) as typeof Buffer.from);
      try {
        return { bmp: kdf.bmpPassword(from(PASSWORD)), copies: made };
      } finally {
        spy.mockRestore();
      }
    })();
    expect(bmp.subarray(0, 4).toString("hex")).toBe("006b0064"); // "kd" in UTF-16BE
    // Since e80f3732 the UTF-16 form is written straight into the result: any other copy made must be wiped.
    // The result is a view of a Buffer made over its own ArrayBuffer (round 43): that storage is the result's.
    expect(zeroed(copies.filter((b) => b.buffer !== bmp.buffer))).toEqual([]);
  });
});

describe("PKCS#12: the MAC key, a 3DES bag's key and each BMP form of the password are wiped", () => {
  const ca = createCa(join(tmp.dir, "ca"), { name: "KDF Wiping CA" });
  const leaf = issueLeaf(ca, tmp.dir, { name: "kdf-wiping", keyType: "p256" });
  const exported = (name: string, pass: string, extra: string[]) => {
    const out = join(tmp.dir, name);
    run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", `pass:${pass}`, "-out", out, ...extra]);
    return readFileSync(out);
  };
  const legacy = ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-iter", "64", "-maciter"];
  const value = (v: string) => ({ keyPassword: { kind: "value" as const, value: v } });

  it("with the right password (3DES bags, SHA-1 MAC)", async () => {
    const file = exported("legacy.p12", PASSWORD, legacy);
    const { result: id, copies } = await copiesOf(PASSWORD, () => readPkcs12(file, "legacy.p12", value(PASSWORD)));
    expect(id).toMatchObject({ key: { keyType: "EC" } });
    // The secret made from the option's value, and the UTF-8 form kept for the bags: both wiped once read.
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(zeroed(copies)).toEqual([]);
    // The MAC key, then the key of each of the two bags (certificates, key).
    expect(made.keys.length).toBeGreaterThanOrEqual(3);
    expect(made.passwords.length).toBeGreaterThanOrEqual(1);
    expect(zeroed(made.keys)).toEqual([]);
    expect(made.ivs.length).toBeGreaterThanOrEqual(2); // one per 3DES bag
    expect(zeroed(made.ivs)).toEqual([]);
    expect(zeroed(made.passwords)).toEqual([]);
  });

  it("a 3DES PKCS#8 key (pbeWithSHAAnd3-KeyTripleDES-CBC): its key and IV, with the right password and a wrong one", async () => {
    const out = join(tmp.dir, "3des.der");
    run(["pkcs8", "-topk8", "-in", leaf.keyPath, "-outform", "DER", "-out", out, "-v1", "PBE-SHA1-3DES", "-passout", `pass:${PASSWORD}`]);
    const der = readFileSync(out);
    const password = (text: string) => ({ utf8: Buffer.from(text), bmp: bmpPasswordOf(text) });
    const { plaintext } = await decryptPrivateKeyInfo(der, password(PASSWORD), context);
    expect(plaintext.length).toBeGreaterThan(0);
    await expect(decryptPrivateKeyInfo(der, password("wrong"), context)).rejects.toMatchObject({ code: "PASSWORD_INCORRECT" });
    expect([made.keys.length, made.ivs.length]).toEqual([2, 2]);
    expect(zeroed([...made.keys, ...made.ivs])).toEqual([]);
  });

  it("with the empty password, tried in both of its forms (the one that does not match too)", async () => {
    const id = await readPkcs12(exported("empty.p12", "", legacy), "empty.p12", {});
    expect(id.key.keyType).toBe("EC");
    expect(made.passwords.length).toBeGreaterThanOrEqual(1);
    expect(zeroed([...made.keys, ...made.ivs])).toEqual([]);
    expect(zeroed(made.passwords.filter((b) => b.length > 0))).toEqual([]);
  });

  it("with a wrong password (the MAC does not match)", async () => {
    const file = exported("wrong.p12", PASSWORD, legacy);
    await expect(readPkcs12(file, "wrong.p12", value("not it"))).rejects.toMatchObject({ code: "PASSWORD_INCORRECT" });
    expect(made.keys.length).toBeGreaterThanOrEqual(1);
    expect(zeroed(made.keys)).toEqual([]);
    expect(zeroed(made.passwords)).toEqual([]);
  });

  it("OpenSSL 3's default (PBES2 bags, SHA-256 MAC)", async () => {
    const id = await readPkcs12(exported("default.p12", PASSWORD, ["-iter", "64", "-maciter"]), "default.p12", value(PASSWORD));
    expect(id.key.keyType).toBe("EC");
    expect(made.keys.length).toBeGreaterThanOrEqual(2); // the MAC's (PKCS#12 KDF) and the key bag's (PBKDF2)
    expect(zeroed(made.keys)).toEqual([]);
    expect(zeroed(made.passwords)).toEqual([]);
  });
});
