import { describe, expect, it } from "vitest";
import { constants, createHash, createSecretKey, generateKeyPairSync, privateEncrypt, sign, verify } from "node:crypto";
import {
  ecdsaSignatureToDer, emsaPkcs1v15, nodeHashName, signatureVerifies,
} from "../../src/encoding/signature-encoding.js";

describe("ECDSA (r, s) → DER", () => {
  it("round-trips signatures node:crypto makes, for P-256 and P-384 (many, so short and high-bit values occur)", () => {
    for (const namedCurve of ["P-256", "P-384"]) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
      for (let i = 0; i < 64; i++) {
        const msg = Buffer.from(`m${i}`);
        const raw = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
        const half = raw.length / 2;
        const der = ecdsaSignatureToDer(raw.subarray(0, half), raw.subarray(half));
        expect(verify("sha256", msg, publicKey, der)).toBe(true);
      }
    }
  });

  it("strips leading zeros, adds one before a high bit, and accepts values shorter than the curve", () => {
    expect(ecdsaSignatureToDer(Buffer.from([0, 0, 0x7f]), Buffer.from([0x80])).toString("hex")).toBe("300702017f0202" + "0080");
  });
});

describe("EMSA-PKCS1-v1_5", () => {
  it("raw RSA on the encoded block is exactly an RSASSA-PKCS1-v1_5 signature", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    for (const [alg, node] of [["SHA256", "sha256"], ["SHA384", "sha384"], ["SHA512", "sha512"]] as const) {
      const msg = Buffer.from("sign me");
      const em = emsaPkcs1v15(createHash(node).update(msg).digest(), alg, 256);
      expect(em).toHaveLength(256);
      const raw = privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em);
      expect(raw.equals(sign(node, msg, privateKey))).toBe(true);
    }
  });
});

describe("emsaPkcs1v15, nodeHashName and signatureVerifies at their edges (found by mutation testing)", () => {
  it("emsaPkcs1v15 needs 8 bytes of 0xff padding: a modulus one byte shorter is refused", () => {
    const digest = Buffer.alloc(32);
    const smallest = 19 + 32 + 3 + 8;
    const header = emsaPkcs1v15(digest, "SHA256", smallest).subarray(0, 11);
    expect(header).toEqual(Buffer.from("0001ffffffffffffffff00", "hex"));
    expect(() => emsaPkcs1v15(digest, "SHA256", smallest - 1)).toThrow(RangeError);
  });

  it("nodeHashName refuses a digest from plain JavaScript it does not know", () => {
    expect(nodeHashName("SHA384")).toBe("sha384");
    expect(() => nodeHashName("MD5" as never)).toThrow(expect.objectContaining({ code: "PRIVATE_KEY_UNSUPPORTED" }));
    expect(() => nodeHashName("toString" as never)).toThrow("digest toString is not supported");
  });

  it("signatureVerifies is false, not an error, for a key that cannot verify", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(signatureVerifies(publicKey, "SHA256", Buffer.from("m"), Buffer.from([0x30, 0x00]))).toBe(false);
    const secret = createSecretKey(Buffer.alloc(16));
    expect(signatureVerifies(secret, "SHA256", Buffer.from("m"), Buffer.alloc(8))).toBe(false);
  });
});
