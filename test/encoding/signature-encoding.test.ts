import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createHash, generateKeyPairSync, privateEncrypt, sign, verify, constants } from "node:crypto";
import { DIGEST_INFO_PREFIX, curveFromEcParams, ecdsaRawToDer } from "../../src/encoding/signature-encoding.js";

describe("ecdsaRawToDer", () => {
  it.each([
    ["prime256v1", 32],
    ["secp384r1", 48],
    ["secp521r1", 66],
  ] as const)("turns node's IEEE P1363 signatures on %s into DER that verifies and equals node's own DER", (namedCurve, half) => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (message) => {
        const raw = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
        expect(raw.length).toBe(2 * half);
        const der = ecdsaRawToDer(raw);
        expect(verify("sha256", message, publicKey, der)).toBe(true);
        // node's DER encoder on the same (r, s) must produce the same bytes
        const back = verify("sha256", message, { key: publicKey, dsaEncoding: "der" }, der);
        expect(back).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it("strips leading zeros and adds the sign byte where the high bit is set", () => {
    const r = Buffer.alloc(32);
    r[31] = 0x01; // r = 1
    const s = Buffer.alloc(32, 0xff); // high bit set: needs a 0x00 prefix
    const der = ecdsaRawToDer(Buffer.concat([r, s]));
    expect(der.subarray(0, 5).toString("hex")).toBe("3026020101");
    expect(der.subarray(5, 8).toString("hex")).toBe("022100");
    expect(der.length).toBe(2 + 3 + 35);
  });

  it("uses the long length form for P-521 sized signatures", () => {
    const der = ecdsaRawToDer(Buffer.alloc(132, 0x80));
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x81);
    expect(der[2]).toBe(der.length - 3);
  });

  it("rejects odd or empty input", () => {
    expect(() => ecdsaRawToDer(Buffer.alloc(63))).toThrow(RangeError);
    expect(() => ecdsaRawToDer(Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe("DIGEST_INFO_PREFIX", () => {
  it.each(["SHA256", "SHA384", "SHA512"] as const)("with the %s digest, raw PKCS#1 v1.5 equals node's RSA signature", (digest) => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const message = Buffer.from("string to sign");
    const hash = createHash(digest.toLowerCase()).update(message).digest();
    const raw = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO_PREFIX[digest], hash]));
    expect(raw.equals(sign(digest.toLowerCase(), message, privateKey))).toBe(true);
  });
});

describe("curveFromEcParams", () => {
  it("knows the three NIST curves by their DER OID and nothing else", () => {
    expect(curveFromEcParams(Buffer.from("06082a8648ce3d030107", "hex"))).toEqual({ name: "P-256", fieldBytes: 32 });
    expect(curveFromEcParams(Buffer.from("06052b81040022", "hex"))).toEqual({ name: "P-384", fieldBytes: 48 });
    expect(curveFromEcParams(Buffer.from("06052b81040023", "hex"))).toEqual({ name: "P-521", fieldBytes: 66 });
    expect(curveFromEcParams(Buffer.from("06052b8104000a", "hex"))).toBeUndefined(); // secp256k1
    expect(curveFromEcParams(undefined)).toBeUndefined();
  });
});
