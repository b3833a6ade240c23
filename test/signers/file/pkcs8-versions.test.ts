import { writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeyFile } from "../../../src/signers/file/key-material.js";
import { checkKey } from "../../../src/signers/file/key-checks.js";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { TAG, children, readSingle } from "../../../src/encoding/der.js";
import { makeTempDir } from "../../helpers/pki.js";
import { copiesHolding } from "../../helpers/copies-made.js";
import { workOf } from "../../helpers/work-counted.js";
import { expectAgentError } from "./fixtures.js";
import { DAMAGED_KEY_HINT } from "../../../src/signers/file/signing-key.js";
import { generateMlDsaKeyPair, mlDsaPkcs8Der } from "../../helpers/mldsa-pki.js";

// RFC 5958 OneAsymmetricKey: version 0 (v1) or 1 (v2), privateKeyAlgorithm, privateKey, [0] attributes, [1] publicKey.
// Node 20's OpenSSL 3.0 refuses any [1] publicKey and reads any version; Node 22's and 24's OpenSSL 3.5 read a v2 key's
// publicKey without comparing it with the private key, and refuse version 2 or more and a v1 key with a publicKey.
// The agent reads the same keys under each (scripts/test.sh runs this file under Node 22 and 24 too).

const ATTRIBUTES = derTlv(0xa0, derSequence(derOid("1.2.840.113549.1.9.20"), derTlv(TAG.SET, derTlv(0x1e, Buffer.from("\0k")))));
/** A public key's BIT STRING content (the unused-bits byte, then the key), its point compressed if asked. */
const publicKeyBits = (key: KeyObject, compressed = false) => {
  const spki = key.export({ type: "spki", format: "der" });
  let bits = children(readSingle(spki, TAG.SEQUENCE))[1]!.content; // unused-bits byte, then the key
  if (compressed) {
    const jwk = key.export({ format: "jwk" });
    const y = Buffer.from(jwk.y!, "base64url");
    bits = Buffer.concat([Buffer.from([0, 2 + (y.at(-1)! & 1)]), Buffer.from(jwk.x!, "base64url")]);
  }
  return bits;
};
/** OneAsymmetricKey's `publicKey [1] IMPLICIT BIT STRING`. */
const publicKeyField = (key: KeyObject, compressed = false) => derTlv(0x81, publicKeyBits(key, compressed));

/** The key's PKCS#8 with `version` and the optional fields given, in the order given. */
function pkcs8(privateKey: KeyObject, version: number, ...optional: Buffer[]): Buffer {
  const [, algorithm, key] = children(readSingle(privateKey.export({ type: "pkcs8", format: "der" }), TAG.SEQUENCE));
  return derSequence(derTlv(TAG.INTEGER, Buffer.from([version])), algorithm!.raw, key!.raw, ...optional);
}

const KEYS = {
  RSA: () => generateKeyPairSync("rsa", { modulusLength: 2048 }),
  "P-256": () => generateKeyPairSync("ec", { namedCurve: "P-256" }),
  "P-384": () => generateKeyPairSync("ec", { namedCurve: "P-384" }),
};
const MISMATCH = { RSA: "RSA private key", "P-256": "P-256 private scalar", "P-384": "P-384 private scalar" };

describe.each(Object.keys(KEYS) as (keyof typeof KEYS)[])(`PKCS#8 versions and optional fields, %s, Node ${process.versions.node}`, (type) => {
  let tmp: ReturnType<typeof makeTempDir>;
  let pair: ReturnType<(typeof KEYS)[typeof type]>;
  let other: KeyObject;
  const write = (name: string, der: Buffer) => {
    writeFileSync(join(tmp.dir, name), der, { mode: 0o600 });
    return join(tmp.dir, name);
  };
  beforeAll(() => {
    tmp = makeTempDir("raa-pkcs8-versions-");
    pair = KEYS[type]();
    other = KEYS[type]().publicKey;
  });
  afterAll(() => tmp.cleanup());

  type Make = (k: KeyObject, p: KeyObject) => Buffer;
  const compressed: Array<[string, Make]> = [["v2 with its public point compressed", (k, p) => pkcs8(k, 1, publicKeyField(p, true))]];
  const readable: Array<[string, Make]> = [
    ["v1", (k) => pkcs8(k, 0)],
    ["v1 with attributes", (k) => pkcs8(k, 0, ATTRIBUTES)],
    ["v2 with its public key", (k, p) => pkcs8(k, 1, publicKeyField(p))],
    ["v2 with attributes and its public key", (k, p) => pkcs8(k, 1, ATTRIBUTES, publicKeyField(p))],
    ["v2 without a public key", (k) => pkcs8(k, 1)],
    // RFC 5958 wants v2 for a publicKey; Go's ParsePKCS8PrivateKey (aws_signing_helper) reads it whatever the version.
    ["v1 with its public key", (k, p) => pkcs8(k, 0, publicKeyField(p))],
    ...(type === "RSA" ? [] : compressed),
  ];
  it.each(readable)("%s: read, its public key is the key's, it signs", async (name, make) => {
    const { key } = await loadKeyFile(write(`${name}.der`, make(pair.privateKey, pair.publicKey)), {});
    expect(key.publicKey!.equals(pair.publicKey)).toBe(true);
    const signature = key.sign(Buffer.from("m"), "SHA256");
    expect(verify("sha256", Buffer.from("m"), pair.publicKey, signature)).toBe(true);
  });

  it("v2 holding another key's public key: refused in one line (before: read under Node 22 and 24, refused as malformed under 20)", async () => {
    const file = write("mismatched.der", pkcs8(pair.privateKey, 1, publicKeyField(other)));
    const e = await expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toBe(`unusable private key in ${file}: the public key stored with it is not the public half of its ${MISMATCH[type]}`);
    const compressed = write("mismatched-compressed.der", pkcs8(pair.privateKey, 1, publicKeyField(other, type !== "RSA")));
    await expectAgentError(loadKeyFile(compressed, {}), "PRIVATE_KEY_INVALID");
  });

  it.each([
    ["version 2 (none RFC 5958 defines)", (k: KeyObject) => pkcs8(k, 2), "its version is 2; RFC 5958 defines only 0 and 1"],
    ["its public key before its attributes", (k: KeyObject, p: KeyObject) => pkcs8(k, 1, publicKeyField(p), ATTRIBUTES), "unexpected element in PKCS#8 key"],
    ["its public key tagged [1] EXPLICIT", (k: KeyObject, p: KeyObject) => pkcs8(k, 1, derTlv(0xa1, derTlv(TAG.BIT_STRING, publicKeyBits(p)))), "unexpected element in PKCS#8 key"],
    ["an element after its public key", (k: KeyObject, p: KeyObject) => pkcs8(k, 1, publicKeyField(p), derTlv(0x82, Buffer.from([0]))), "unexpected element in PKCS#8 key"],
    ["a public key BIT STRING with unused bits", (k: KeyObject) => pkcs8(k, 1, derTlv(0x81, Buffer.from([1, 0x80]))), "PKCS#8 public key BIT STRING has unused bits"],
  ])("%s: refused as malformed, the same under every Node", async (name, make, reason) => {
    const file = write(`${name}.der`, make(pair.privateKey, pair.publicKey));
    const e = await expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toBe(`unable to parse private key: ${file} holds a malformed PKCS#8 key (${reason})`);
  });
});

describe(`the key handed to node:crypto in place of a v2 key is wiped, Node ${process.versions.node}`, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => (tmp = makeTempDir("raa-pkcs8-v2-wiped-")));
  afterAll(() => tmp.cleanup());

  it("no Buffer made while reading a v2 key (attributes, public key) holds its private scalar once it is loaded", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const scalar = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
    const file = join(tmp.dir, "v2.der");
    writeFileSync(file, pkcs8(privateKey, 1, ATTRIBUTES, publicKeyField(publicKey)), { mode: 0o600 });
    const { result, left } = await copiesHolding(scalar, () => loadKeyFile(file, {}));
    expect(result.key.publicKey!.equals(createPublicKey(privateKey))).toBe(true);
    expect(left).toBe(0);
  });
});

// ML-DSA keys follow the same envelope rule (readPkcs8). Node 22's OpenSSL 3.5 reads a v2 ML-DSA key holding another
// key's public key (deriving its own from the seed) and refuses the other cases below: the agent refuses all of them.
const ML_DSA_OIDS = { "ML-DSA-44": "2.16.840.1.101.3.4.3.17", "ML-DSA-65": "2.16.840.1.101.3.4.3.18", "ML-DSA-87": "2.16.840.1.101.3.4.3.19" } as const;

describe.each(Object.keys(ML_DSA_OIDS) as (keyof typeof ML_DSA_OIDS)[])("PKCS#8 versions and optional fields, %s", (keyType) => {
  let tmp: ReturnType<typeof makeTempDir>;
  const pair = generateMlDsaKeyPair(keyType);
  const other = generateMlDsaKeyPair(keyType);
  const publicKey = (key: Buffer) => derTlv(0x81, Buffer.concat([Buffer.from([0]), key]));
  /** The pair's PKCS#8 (`both`, as OpenSSL 3.5 writes it) with `version` and the optional fields given, in that order. */
  const mlDsaPkcs8 = (version: number, ...optional: Buffer[]) => {
    const [, algorithm, key] = children(readSingle(mlDsaPkcs8Der(pair, "both"), TAG.SEQUENCE));
    expect(children(algorithm!)[0]!.raw).toEqual(derOid(ML_DSA_OIDS[keyType]));
    return derSequence(derTlv(TAG.INTEGER, Buffer.from([version])), algorithm!.raw, key!.raw, ...optional);
  };
  const write = (name: string, der: Buffer) => {
    writeFileSync(join(tmp.dir, name), der, { mode: 0o600 });
    return join(tmp.dir, name);
  };
  beforeAll(() => (tmp = makeTempDir("raa-pkcs8-versions-mldsa-")));
  afterAll(() => tmp.cleanup());

  it.each([
    ["v1", () => mlDsaPkcs8(0)],
    ["v1 with attributes", () => mlDsaPkcs8(0, ATTRIBUTES)],
    ["v2 with its public key", () => mlDsaPkcs8(1, publicKey(pair.publicKey))],
    ["v2 with attributes and its public key", () => mlDsaPkcs8(1, ATTRIBUTES, publicKey(pair.publicKey))],
    ["v1 with its public key", () => mlDsaPkcs8(0, publicKey(pair.publicKey))],
  ])("%s: read, its public key (for the certificate match) is the key's", async (name, make) => {
    const { key } = await loadKeyFile(write(`${name}.der`, make()), {});
    expect(key.spki.subarray(-pair.publicKey.length)).toEqual(pair.publicKey);
  });

  it("v2 holding another key's public key: refused, whatever follows it", async () => {
    for (const optional of [[publicKey(other.publicKey)], [ATTRIBUTES, publicKey(other.publicKey)]]) {
      const file = write("mismatched.der", mlDsaPkcs8(1, ...optional));
      const e = await expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID");
      expect(e.message).toContain("embedded public key that does not belong to the private key");
    }
  });

  it.each([
    ["version 2 (none RFC 5958 defines)", () => mlDsaPkcs8(2), "its version is 2; RFC 5958 defines only 0 and 1"],
    ["its public key before its attributes", () => mlDsaPkcs8(1, publicKey(pair.publicKey), ATTRIBUTES), "unexpected element in PKCS#8 key"],
    ["an element after its public key", () => mlDsaPkcs8(1, publicKey(pair.publicKey), derTlv(0x82, Buffer.from([0]))), "unexpected element in PKCS#8 key"],
    ["its own public key, then another key's", () => mlDsaPkcs8(1, publicKey(pair.publicKey), publicKey(other.publicKey)), "unexpected element in PKCS#8 key"],
    ["an unknown field instead of a public key", () => mlDsaPkcs8(1, derTlv(0x82, other.publicKey)), "unexpected element in PKCS#8 key"],
    ["its public key tagged [1] EXPLICIT", () => mlDsaPkcs8(1, derTlv(0xa1, derTlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), pair.publicKey])))), "unexpected element in PKCS#8 key"],
    ["a public key BIT STRING with unused bits", () => mlDsaPkcs8(1, derTlv(0x81, Buffer.from([1, 0x80]))), "PKCS#8 public key BIT STRING has unused bits"],
  ])("%s: refused as malformed, in the words used for RSA and EC keys", async (name, make, reason) => {
    const file = write(`${name}.der`, make());
    const e = await expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toBe(`unable to parse private key: ${file} holds a malformed PKCS#8 key (${reason})`);
  });
});

// Round 34 (M39): Stryker's survivors in checkPkcs8, readPkcs8's BIT STRING and checkRsa's stored public key. Under
// OpenSSL 3.0 (`openssl pkey -inform DER`): an RSA key without parameters or with an empty SEQUENCE is read, NULL with
// content is not; any v2 key with a publicKey is refused, so the agent's comparison is the only check of it.
describe(`PKCS#8 parameters, stored public keys and the DER handed to node:crypto, Node ${process.versions.node}`, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const RSA_OID = derOid("1.2.840.113549.1.1.1");
  const write = (name: string, der: Buffer) => {
    writeFileSync(join(tmp.dir, name), der, { mode: 0o600 });
    return join(tmp.dir, name);
  };
  /** The RSA key's PKCS#8 with these AlgorithmIdentifier parameters (none: absent) and optional fields. */
  const rsaPkcs8 = (params: Buffer[], version = 0, ...optional: Buffer[]) => {
    const [, , key] = children(readSingle(rsa.privateKey.export({ type: "pkcs8", format: "der" }), TAG.SEQUENCE));
    return derSequence(derTlv(TAG.INTEGER, Buffer.from([version])), derSequence(RSA_OID, ...params), key!.raw, ...optional);
  };
  /** An RSAPublicKey SEQUENCE { n, e, … } as a `[1] publicKey`. */
  const rsaPublicKeyField = (...fields: Buffer[]) => derTlv(0x81, Buffer.concat([Buffer.from([0]), derSequence(...fields)]));
  const [n, e] = children(readSingle(rsa.publicKey.export({ type: "pkcs1", format: "der" }), TAG.SEQUENCE)).map((f) => f.raw) as [Buffer, Buffer];
  beforeAll(() => (tmp = makeTempDir("raa-pkcs8-m39-")));
  afterAll(() => tmp.cleanup());

  it("an RSA key without AlgorithmIdentifier parameters is read and signs, as OpenSSL reads it", async () => {
    const { key } = await loadKeyFile(write("no-params.der", rsaPkcs8([])), {});
    expect(verify("sha256", Buffer.from("m"), rsa.publicKey, key.sign(Buffer.from("m"), "SHA256"))).toBe(true);
  });

  // Round 35: openssl genpkey, Java's KeyPairGenerator (keytool), Go's MarshalPKCS8PrivateKey write NULL; no writer of
  // another form was found. OpenSSL 3.0 reads any parameters of rsaEncryption and writes NULL back: so the hint.
  const convert = "OpenSSL reads it: convert it with `openssl pkey -in KEY -out NEW` and give NEW";
  it.each([
    ["an empty SEQUENCE (OpenSSL reads it)", derTlv(TAG.SEQUENCE, Buffer.alloc(0)), "RSA parameters are not NULL, as RFC 8017 wants", convert],
    ["an OID (OpenSSL reads it)", derOid("1.2"), "RSA parameters are not NULL, as RFC 8017 wants", convert],
    ["NULL with content (OpenSSL refuses it; the DER reading before checkPkcs8 too)", derTlv(TAG.NULL, Buffer.from([0])), "a NULL with content", DAMAGED_KEY_HINT],
  ])("RSA parameters that are %s: refused, with how to convert the key when OpenSSL can (before: no hint)", async (name, params, reason, hint) => {
    const file = write("params.der", rsaPkcs8([params]));
    const error = await expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID");
    expect([error.message, error.hint]).toEqual([`unable to parse private key: ${file} holds a malformed PKCS#8 key (${reason})`, hint]);
  });

  it("a stored RSA public key with its modulus but another exponent is not the key's; one with a third field is malformed", async () => {
    const otherE = write("other-e.der", rsaPkcs8([derTlv(TAG.NULL, Buffer.alloc(0))], 1, rsaPublicKeyField(n, derTlv(TAG.INTEGER, Buffer.from([3])))));
    const mismatch = await expectAgentError(loadKeyFile(otherE, {}), "PRIVATE_KEY_INVALID");
    expect(mismatch.message).toBe(`unusable private key in ${otherE}: the public key stored with it is not the public half of its RSA private key`);
    const third = write("third.der", rsaPkcs8([derTlv(TAG.NULL, Buffer.alloc(0))], 1, rsaPublicKeyField(n, e, derTlv(TAG.INTEGER, Buffer.from([1])))));
    const malformed = await expectAgentError(loadKeyFile(third, {}), "PRIVATE_KEY_INVALID");
    expect(malformed.message).toBe(`unable to parse private key: ${third} holds a malformed PKCS#8 key (trailing data in the RSA public key)`);
    const own = write("own.der", rsaPkcs8([derTlv(TAG.NULL, Buffer.alloc(0))], 1, rsaPublicKeyField(n, e)));
    expect((await loadKeyFile(own, {})).key.publicKey!.equals(rsa.publicKey)).toBe(true);
  });

  it("a stored public key BIT STRING of no byte but its count is malformed; of one byte, not the key's", async () => {
    const empty = write("empty.der", pkcs8(ec.privateKey, 1, derTlv(0x81, Buffer.from([0]))));
    const e1 = await expectAgentError(loadKeyFile(empty, {}), "PRIVATE_KEY_INVALID");
    expect(e1.message).toBe(`unable to parse private key: ${empty} holds a malformed PKCS#8 key (PKCS#8 public key BIT STRING has unused bits)`);
    const oneByte = write("one-byte.der", pkcs8(ec.privateKey, 1, derTlv(0x81, Buffer.from([0, 4]))));
    const e2 = await expectAgentError(loadKeyFile(oneByte, {}), "PRIVATE_KEY_INVALID");
    expect(e2.message).toBe(`unusable private key in ${oneByte}: the public key stored with it is not the public half of its P-256 private scalar`);
  });

  it("checkKey hands node:crypto a version 1 key without optional fields in place of a v2 key, even one without them", () => {
    const v1 = pkcs8(ec.privateKey, 0);
    for (const v2 of [pkcs8(ec.privateKey, 1), pkcs8(ec.privateKey, 1, ATTRIBUTES, publicKeyField(ec.publicKey)), pkcs8(ec.privateKey, 0, ATTRIBUTES)]) {
      expect(checkKey(v2, "pkcs8", "k").der).toEqual(v1);
    }
    expect(checkKey(v1, "pkcs8", "k")).toEqual({ kind: "EC", curve: "P-256", der: v1 });
    expect(checkKey(rsaPkcs8([]), "pkcs8", "k")).toEqual({ kind: "RSA", bits: 2048, der: rsaPkcs8([]) });
  });

  it("checkKey: a PKCS#8 key of another algorithm (Ed25519; loadKeyFile never hands it one) is no RSA or EC key", () => {
    const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "der" });
    expect(() => checkKey(ed, "pkcs8", "k")).toThrow(expect.objectContaining({
      code: "PRIVATE_KEY_INVALID", message: "unable to parse private key: k holds a malformed PKCS#8 key (algorithm 1.3.101.112 is neither RSA nor EC)",
    }));
  });
});

// Round 35: `[0] attributes` were not looked into (Go's parser does not either). They never reach node:crypto, so they
// cannot change the key used; a list OpenSSL refuses is now refused too, and reading them stays cheap whatever they hold.
describe("PKCS#8 [0] attributes: a SET OF Attribute, checked as openssl pkey checks it", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => (tmp = makeTempDir("raa-pkcs8-attributes-")));
  afterAll(() => tmp.cleanup());
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const friendlyName = derOid("1.2.840.113549.1.9.20");
  const attributes = (...list: Buffer[]) => derTlv(0xa0, Buffer.concat(list));
  const write = (name: string, der: Buffer) => {
    writeFileSync(join(tmp.dir, name), der, { mode: 0o600 });
    return join(tmp.dir, name);
  };
  const opensslReads = (file: string) => {
    try {
      execFileSync("openssl", ["pkey", "-inform", "DER", "-in", file, "-noout"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };

  it.each([
    ["an INTEGER for an Attribute", attributes(derTlv(TAG.INTEGER, Buffer.from([1]))), "expected DER tag 0x30, found 0x2"],
    ["an Attribute whose values are no SET", attributes(derSequence(friendlyName, derTlv(TAG.OCTET_STRING, Buffer.from("k")))), "expected DER tag 0x31, found 0x4"],
    ["an Attribute without values", attributes(derSequence(friendlyName)), "missing DER element (tag 0x31)"],
    ["an Attribute with a third field", attributes(derSequence(friendlyName, derTlv(TAG.SET, Buffer.alloc(0)), derTlv(TAG.NULL, Buffer.alloc(0)))), "3 elements where at most 2 belong"],
    ["an Attribute type that is no OID", attributes(derSequence(derTlv(TAG.OID, Buffer.from([0x80])), derTlv(TAG.SET, Buffer.alloc(0)))), "an OID arc with a leading 0x80 (not minimal)"],
  ])("%s: refused, as openssl refuses it (before: read)", (name, list, reason) => {
    const file = write(`${name}.der`, pkcs8(pair.privateKey, 0, list));
    expect(opensslReads(file)).toBe(false);
    return expectAgentError(loadKeyFile(file, {}), "PRIVATE_KEY_INVALID").then((e) =>
      expect(e.message).toBe(`unable to parse private key: ${file} holds a malformed PKCS#8 key (its [0] attributes are not a SET OF Attribute: ${reason})`),
    );
  });

  it("none, an Attribute with no value, a value 8 MiB long or nested 200,000 deep: read, as openssl reads them, the values not walked", async () => {
    let deep = derTlv(TAG.NULL, Buffer.alloc(0));
    const heads: Buffer[] = [];
    /** A SEQUENCE's header for `size` bytes of content (DER's minimal length). */
    const header = (size: number) => {
      const octets = size < 0x80 ? [] : [...Buffer.from(size.toString(16).padStart(size.toString(16).length + (size.toString(16).length % 2), "0"), "hex")];
      return Buffer.from([TAG.SEQUENCE, ...(octets.length ? [0x80 | octets.length, ...octets] : [size])]);
    };
    for (let size = deep.length; heads.length < 200_000; size += heads.at(-1)!.length) heads.push(header(size));
    deep = Buffer.concat([...heads.reverse(), deep]);
    const lists = {
      none: attributes(),
      "no value": attributes(derSequence(friendlyName, derTlv(TAG.SET, Buffer.alloc(0)))),
      long: attributes(derSequence(friendlyName, derTlv(TAG.SET, derTlv(TAG.OCTET_STRING, Buffer.alloc(8 * 2 ** 20, 0x41))))),
      deep: attributes(derSequence(friendlyName, derTlv(TAG.SET, deep))),
    };
    for (const [name, list] of Object.entries(lists)) {
      const file = write(`${name}.der`, pkcs8(pair.privateKey, 0, list));
      expect(opensslReads(file), name).toBe(true);
      // Counted, not timed: each DER element read is two views (Buffer#subarray); a walk into the deep value is 400,000.
      const { result: { key }, work: views } = await workOf(Buffer.prototype, "subarray", () => loadKeyFile(file, {}), { budget: 1_000 });
      expect([name, key.publicKey!.equals(pair.publicKey)]).toEqual([name, true]);
      expect(views, name).toBeLessThan(100); // 53 to 59
    }
  });
});
