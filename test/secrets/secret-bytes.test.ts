import { describe, expect, it, vi } from "vitest";
import { ownsItsStore, secretBytes, secretConcat, secretCopy } from "../../src/secrets/secret-bytes.js";
import { Secret } from "../../src/secrets/secret.js";
import { bmpPassword, pkcs12DeriveBytes } from "../../src/signers/file/pkcs12-kdf.js";
import { kdfa } from "../../src/tpm/sessions/kdf.js";
import { AuthSession } from "../../src/tpm/sessions/auth-session.js";

// A buffer on an ArrayBuffer of its own, made by `new ArrayBuffer`: V8 allocates that backing store outside its heap
// and never moves it, unlike `Buffer.alloc`'s of 64 bytes or fewer (an on-heap typed array a GC moves, the old copy
// left unwiped), and unlike Node's 8 KiB pool, shared with unrelated bytes (Buffer.from, Buffer.concat).
const ownStore = (b: Buffer) => b.byteOffset === 0 && b.buffer.byteLength === b.length && b.buffer.constructor === ArrayBuffer;

describe("secret bytes: one home for the buffers that hold a secret", () => {
  it("gives each buffer an ArrayBuffer of its own, for every small size, never Node's pool (a V8-heap one: the KDF test below)", () => {
    for (let n = 0; n <= 80; n++) {
      const b = secretBytes(n);
      expect(ownStore(b)).toBe(true);
      expect(b.every((x) => x === 0)).toBe(true);
    }
    // The control: Buffer.from of a few bytes shares Node's pool.
    expect(ownStore(Buffer.from("1234"))).toBe(false);
    const copy = secretCopy(Buffer.from("1234"));
    expect(ownStore(copy) && copy.toString() === "1234").toBe(true);
    expect(secretCopy([0x31, 0x32]).toString()).toBe("12");
    const joined = secretConcat([Buffer.from("ab"), Buffer.from("cd")]);
    expect(ownStore(joined) && joined.toString() === "abcd").toBe(true);
  });

  it("holds a Secret, its clone, the BMP password, the KDF's key and a TPM session key in such buffers", async () => {
    // Before the fix: fromUtf8 and clone took Buffer.from's pooled bytes, the KDF's key and kdfa's result too.
    const secret = Secret.fromUtf8("1234-pässword");
    expect(secret.use(ownStore)).toBe(true);
    expect(secret.clone().use(ownStore)).toBe(true);
    expect(ownStore(bmpPassword(Buffer.from("pw")))).toBe(true);
    const key = await pkcs12DeriveBytes("sha1", bmpPassword(Buffer.from("pw")), Buffer.alloc(8, 1), 3, 1, 24);
    expect(key.byteOffset === 0 && key.buffer.constructor === ArrayBuffer && key.buffer.byteLength === 40).toBe(true);
    expect(ownStore(kdfa("sha256", Buffer.alloc(32, 7), "ATH", Buffer.alloc(16), Buffer.alloc(16), 256))).toBe(true);
  });

  it("runs the PKCS#12 KDF with no password block, no I, no output through Buffer.alloc or Buffer.concat", async () => {
    const [password, salt] = [bmpPassword(Buffer.from("hunter2")), Buffer.alloc(8, 1)];
    const alloc = vi.spyOn(Buffer, "alloc");
    const concat = vi.spyOn(Buffer, "concat");
    try {
      await pkcs12DeriveBytes("sha1", password, salt, 3, 1, 40);
      // The diversifier only (before the fix: the password and salt blocks, each B, the output, and one concat).
      expect(alloc.mock.calls.length).toBe(1);
      expect(concat.mock.calls.length).toBe(0);
    } finally {
      alloc.mockRestore();
      concat.mockRestore();
    }
  });

  it("takes as they are only bytes over 64 on a store of their own: a large file's read, not a pooled or small one", () => {
    expect(ownsItsStore(Buffer.alloc(1 << 20))).toBe(true);
    expect(ownsItsStore(secretBytes(65))).toBe(true);
    expect(ownsItsStore(Buffer.alloc(64))).toBe(false); // V8's heap
    expect(ownsItsStore(Buffer.from("x".repeat(100)))).toBe(false); // Node's pool
    expect(ownsItsStore(Buffer.alloc(1 << 20).subarray(1))).toBe(false);
  });
  it("keys a TPM HMAC session's HMAC and CFB (session key ‖ auth value, 35 bytes: V8's heap) in secret bytes, never Buffer.concat's", () => {
    // Before (lead, round 43): #hmacKey joined them with Buffer.concat, and its callers wiped a buffer a GC may have moved.
    const auth = Buffer.from("abc");
    const session = new AuthSession({ handle: 0x02000000, kind: "hmac", hashName: "sha256", sessionKey: Buffer.alloc(32, 0x5a),
      nonceTPM: Buffer.alloc(32, 0x22), nonceCaller: Buffer.alloc(32, 0x11), parameterEncryption: false, random: (n) => Buffer.alloc(n, 0x11) });
    session.begin({ firstParamIsSized: true, firstResponseParamIsSized: false });
    const concat = vi.spyOn(Buffer, "concat");
    try {
      expect(session.commandAuth(Buffer.alloc(32, 1), auth).hmac).toHaveLength(32);
      session.cfb("command", Buffer.from("a new password"), auth); // parameter encryption's KDFa material, the same join
      const joinedAuth = concat.mock.calls.filter(([parts]) => (parts as Uint8Array[]).some((p) => Buffer.from(p).equals(auth)));
      expect(joinedAuth).toEqual([]);
    } finally {
      concat.mockRestore();
    }
  });
});
