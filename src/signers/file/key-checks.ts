import { createECDH } from "node:crypto";
import { InputError } from "../../errors.js";
import { leftPadded } from "../../encoding/bytes.js";
import { derTlv } from "../../encoding/der-writer.js";
import { DerError, TAG, children, decodeOid, decodeSmallInteger, expectTag, readSingle, type DerElement } from "../../encoding/der.js";
import { EC_PUBLIC_KEY, MAX_RSA_MODULUS_BITS, RSA_ENCRYPTION } from "../../x509/certificate.js";
import { NAMED_CURVES, type CurveName } from "../../encoding/signature-encoding.js";
import { ownValue } from "../../own-value.js";
import { unparsableKeyError, unsupportedKeyError } from "./signing-key.js";

/**
 * Checks a private key from its DER structure before node:crypto sees it. OpenSSL loads keys it cannot use:
 * an EC key with explicit curve parameters or an oversized scalar makes Node abort the process (SIGABRT in
 * `asymmetricKeyDetails`), RSA keys with inconsistent components sign with "no inverse" errors or produce
 * signatures nothing verifies, and a huge modulus takes seconds per signature. So every RSA and EC key is
 * checked here: named curve only, 1 ≤ d < n, public point = d·G; n = p·q, e·d ≡ 1 mod λ(n), CRT values, size.
 */

type CheckedKey = { readonly kind: "RSA"; readonly bits: number } | { readonly kind: "EC"; readonly curve: CurveName };

/**
 * A checked key and the DER to hand node:crypto: a PKCS#8 key as version 1 without its optional fields (Node 20's
 * OpenSSL 3.0 refuses a version 2 key's `publicKey`, Node 22's OpenSSL 3.5 a version 1 key with one), a copy that the
 * caller wipes; any other key as it was given.
 */
type CheckedDer = CheckedKey & { readonly der: Buffer };

/** PKCS#8 (OneAsymmetricKey) `publicKey [1] IMPLICIT BIT STRING`, primitive. */
const PUBLIC_KEY_TAG = 0x81;

/** Group orders of the curves this agent takes, for 1 ≤ d < n. */
const ORDERS: Readonly<Record<CurveName, bigint>> = {
  "P-256": 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  "P-384": 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  "P-521": 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/** Other named curves, by OID, for the message. */
const OTHER_CURVES: Readonly<Record<string, string>> = {
  "1.3.132.0.10": "secp256k1",
  "1.3.132.0.33": "secp224r1",
  "1.2.840.10045.3.1.1": "prime192v1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
  "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
  "1.2.156.10197.1.301": "SM2",
};

type CurveInfo = (typeof NAMED_CURVES)[CurveName] & { readonly curve: CurveName; readonly order: bigint };

/** RSA keys below this size are not keys (OpenSSL refuses to generate them); 512–1023 are refused later as unsupported. */
const MIN_RSA_MODULUS_BITS = 512;

/** Thrown for a key that is well-formed DER but unusable; turned into an InputError naming the file. */
class KeyCheckError extends Error {
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(message);
  }
}

/** A form no key writer uses but OpenSSL reads, writing it back as the RFC wants: OpenSSL converts it. */
class ConvertibleKeyError extends DerError {}
const CONVERT_HINT = "OpenSSL reads it: convert it with `openssl pkey -in KEY -out NEW` and give NEW";

/** The DER formats of RSA and EC keys, named for messages. */
export const FORMAT_NAMES = { pkcs8: "PKCS#8 key", sec1: "EC PRIVATE KEY", pkcs1: "RSA PRIVATE KEY" } as const;
export type RsaEcKeyFormat = keyof typeof FORMAT_NAMES;

/** Checks an RSA or EC key in one of its DER formats (SEC1 must name its curve); errors are InputErrors naming `source`. */
export function checkKey(der: Buffer, format: RsaEcKeyFormat, source: string): CheckedDer {
  try {
    return format === "pkcs8" ? checkPkcs8(der) : { ...(format === "sec1" ? checkEc(der, undefined) : checkRsa(der)), der };
  } catch (cause) {
    if (cause instanceof DerError) {
      const hint = cause instanceof ConvertibleKeyError ? CONVERT_HINT : undefined;
      throw unparsableKeyError(`${source} holds a malformed ${FORMAT_NAMES[format]} (${cause.message})`, cause, hint);
    }
    if (!(cause instanceof KeyCheckError)) throw cause;
    if (cause.unsupported) throw unsupportedKeyError(cause.message, source);
    throw new InputError("PRIVATE_KEY_INVALID", `unusable private key in ${source}: ${cause.message}`, {
      hint: "the key is damaged or was not made by a key generator; generate a new key and certificate",
    });
  }
}

/**
 * OneAsymmetricKey (RFC 5958): version 0 (v1) or 1 (v2), then optional `[0] attributes` and `[1] publicKey`, which
 * must be the private key's public half (a file pairing a key with another's public key is refused, in any version).
 */
function checkPkcs8(der: Buffer): CheckedDer {
  const { version: v, algorithmId, privateKey, publicKey: stored, optional } = readPkcs8(der);
  const [oid, params] = children(algorithmId);
  const algorithm = decodeOid(oid);
  const inner = privateKey.content;
  let checked: CheckedKey;
  if (algorithm === RSA_ENCRYPTION) {
    if (params !== undefined && params.tag !== TAG.NULL) throw new ConvertibleKeyError("RSA parameters are not NULL, as RFC 8017 wants"); // a NULL with content: readElement refuses it
    checked = checkRsa(inner, stored);
  } else if (algorithm === EC_PUBLIC_KEY) {
    checked = checkEc(inner, curveOf(params), stored);
  } else {
    throw new DerError(`algorithm ${algorithm} is neither RSA nor EC`);
  }
  if (v === 0 && optional.length === 0) return { ...checked, der };
  const body = Buffer.concat([Buffer.from([TAG.INTEGER, 1, 0]), algorithmId.raw, privateKey.raw]);
  try {
    return { ...checked, der: derTlv(TAG.SEQUENCE, body) };
  } finally {
    body.fill(0);
  }
}

/** The fields of a PKCS#8 key, read by {@link readPkcs8}. */
export interface Pkcs8Fields {
  readonly version: number;
  readonly algorithmId: DerElement;
  /** The privateKey OCTET STRING. */
  readonly privateKey: DerElement;
  /** The `[1] publicKey` BIT STRING's bytes, when stored (to be checked against the private key by the caller). */
  readonly publicKey: Buffer | undefined;
  readonly optional: readonly DerElement[];
}

/**
 * OneAsymmetricKey (RFC 5958) by one rule for every algorithm (RSA, EC, ML-DSA): version 0 or 1, then at most
 * `[0] attributes` and `[1] publicKey`, in that order, and nothing after them. Throws DerError.
 */
export function readPkcs8(der: Buffer): Pkcs8Fields {
  const [version, alg, key, ...optional] = children(readSingle(der, TAG.SEQUENCE));
  const v = decodeSmallInteger(version);
  if (v > 1) throw new DerError(`its version is ${v}; RFC 5958 defines only 0 and 1`);
  const [attributes, publicKey, surplus] = optional[0]?.tag === TAG.CONTEXT_0 ? optional : [undefined, ...optional];
  if (surplus !== undefined || (publicKey !== undefined && publicKey.tag !== PUBLIC_KEY_TAG)) {
    throw new DerError("unexpected element in PKCS#8 key");
  }
  if (attributes) checkAttributes(attributes);
  const stored = publicKey && bitStringBytes(publicKey.content, "PKCS#8 public key");
  return { version: v, algorithmId: expectTag(alg, TAG.SEQUENCE), privateKey: expectTag(key, TAG.OCTET_STRING), publicKey: stored, optional };
}

/**
 * `[0] attributes`: SET OF Attribute { type OID, values SET }, as OpenSSL refuses any other (Go reads anything). Never
 * used nor handed to node:crypto; the values are not read, and more than 10,000 attributes are refused ({@link children}).
 */
function checkAttributes(attributes: DerElement): void {
  try {
    for (const attribute of children(attributes)) {
      const [type, values] = children(expectTag(attribute, TAG.SEQUENCE), 2);
      decodeOid(type);
      expectTag(values, TAG.SET);
    }
  } catch (cause) {
    if (cause instanceof DerError) throw new DerError(`its [0] attributes are not a SET OF Attribute: ${cause.message}`, cause.kind);
    throw cause;
  }
}

/** A BIT STRING's bytes (its content after the unused-bits count, which must be 0). */
function bitStringBytes(content: Buffer, what: string): Buffer {
  if (content.length < 2 || content[0] !== 0) throw new DerError(`${what} BIT STRING has unused bits`);
  return content.subarray(1);
}

const notItsPublicHalf = (what: string) => new KeyCheckError(`the public key stored with it is not the public half of its ${what}`);

/** The named curve of EC parameters; explicit parameters (a SEQUENCE) are refused. */
function curveOf(params: DerElement | undefined): CurveInfo {
  if (params === undefined) throw new DerError("EC key without curve parameters");
  if (params.tag === TAG.SEQUENCE) throw new KeyCheckError("ECDSA with explicit curve parameters", true);
  const oid = decodeOid(params);
  const curve = (Object.keys(NAMED_CURVES) as CurveName[]).find((name) => NAMED_CURVES[name].oid === oid);
  if (curve === undefined) throw new KeyCheckError(`ECDSA ${ownValue(OTHER_CURVES, oid) ?? `curve ${oid}`}`, true);
  return { ...NAMED_CURVES[curve], curve, order: ORDERS[curve] };
}

/** ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey BIT STRING OPTIONAL } */
function checkEc(der: Buffer, outer: CurveInfo | undefined, pkcs8Point?: Buffer): CheckedKey {
  const [version, scalar, ...rest] = children(readSingle(der, TAG.SEQUENCE));
  if (decodeSmallInteger(version) !== 1) throw new DerError("ECPrivateKey version is not 1");
  const d = expectTag(scalar, TAG.OCTET_STRING).content;
  const [params, publicKey, surplus] = rest[0]?.tag === TAG.CONTEXT_0 ? rest : [undefined, ...rest];
  // [0] parameters then [1] publicKey, each at most once.
  if (surplus !== undefined || (publicKey !== undefined && publicKey.tag !== TAG.CONTEXT_1)) {
    throw new DerError("unexpected element in ECPrivateKey");
  }
  let curve = outer;
  if (params !== undefined) {
    const [p, extra] = children(params);
    if (extra !== undefined) throw new DerError("trailing data in EC parameters");
    const inner = curveOf(p);
    if (curve !== undefined && inner.curve !== curve.curve) {
      throw new KeyCheckError("the curve in the key differs from the curve in its PKCS#8 header");
    }
    curve = inner;
  }
  if (curve === undefined) throw new DerError("EC PRIVATE KEY without curve parameters");
  // RFC 5915 writes the scalar at the order's length; shorter (leading zeros dropped) is tolerated, as by Go.
  if (d.length === 0 || d.length > curve.fieldBytes) {
    throw new KeyCheckError(`its ${curve.curve} private scalar is ${d.length} bytes long (expected ${curve.fieldBytes})`);
  }
  const value = BigInt(`0x${d.toString("hex")}`);
  if (value === 0n || value >= curve.order) throw new KeyCheckError(`its ${curve.curve} private scalar is not between 1 and the curve order`);
  const ecdh = createECDH(curve.ecdhName);
  const padded = leftPadded(d, curve.fieldBytes);
  ecdh.setPrivateKey(padded);
  padded.fill(0);
  const derived = ecdh.getPublicKey();
  if (publicKey !== undefined) {
    const [bits, extra] = children(publicKey);
    if (extra !== undefined) throw new DerError("trailing data after the EC public key");
    const point = bitStringBytes(expectTag(bits, TAG.BIT_STRING).content, "EC public key");
    if (!samePoint(point, derived, curve)) throw notItsPublicHalf(`${curve.curve} private scalar`);
  }
  if (pkcs8Point !== undefined && !samePoint(pkcs8Point, derived, curve)) throw notItsPublicHalf(`${curve.curve} private scalar`);
  return { kind: "EC", curve: curve.curve };
}

/** Compares an encoded point (uncompressed, compressed or hybrid) with d·G in uncompressed form. */
function samePoint(encoded: Buffer, uncompressed: Buffer, curve: CurveInfo): boolean {
  const prefix = encoded[0];
  if (prefix === 0x04 || prefix === 0x06 || prefix === 0x07) {
    return encoded.length === uncompressed.length && encoded.subarray(1).equals(uncompressed.subarray(1));
  }
  if ((prefix === 0x02 || prefix === 0x03) && encoded.length === curve.fieldBytes + 1) {
    const odd = (uncompressed[uncompressed.length - 1]! & 1) === 1;
    return encoded.subarray(1).equals(uncompressed.subarray(1, 1 + curve.fieldBytes)) && odd === (prefix === 0x03);
  }
  return false;
}

/** RSAPrivateKey ::= SEQUENCE { version 0, n, e, d, p, q, dP, dQ, qInv } (two-prime only). */
function checkRsa(der: Buffer, pkcs8PublicKey?: Buffer): CheckedKey {
  const [version, ...fields] = children(readSingle(der, TAG.SEQUENCE));
  const v = decodeSmallInteger(version);
  if (v !== 0 || fields.length !== 8) {
    if (v === 1) throw new KeyCheckError("multi-prime RSA", true);
    throw new DerError("RSAPrivateKey is not version 0 with 8 components");
  }
  const [n, e, d, p, q, dP, dQ, qInv] = fields.map(positiveInteger) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  const bits = n.toString(2).length;
  if (bits > MAX_RSA_MODULUS_BITS) {
    throw new KeyCheckError(`RSA ${bits}-bit (larger than ${MAX_RSA_MODULUS_BITS} bits, OpenSSL's own limit)`, true);
  }
  if (bits < MIN_RSA_MODULUS_BITS) throw new KeyCheckError(`RSA ${bits}-bit`, true);
  if (p < 2n || q < 2n || p * q !== n) throw new KeyCheckError("its RSA primes p and q do not multiply to the modulus n");
  if (e < 3n || e % 2n === 0n || e >= n) throw new KeyCheckError("its RSA public exponent is not an odd number between 3 and n");
  const p1 = p - 1n;
  const q1 = q - 1n;
  // e·d ≡ 1 mod λ(n) = lcm(p−1, q−1) is e·d ≡ 1 modulo both p−1 and q−1 (no gcd needed).
  const ed = e * d;
  if (d >= n || ed % p1 !== 1n || ed % q1 !== 1n) throw new KeyCheckError("its RSA private exponent d is not the inverse of e modulo λ(n)");
  if (dP !== d % p1 || dQ !== d % q1) throw new KeyCheckError("its RSA CRT exponents dP, dQ do not match d");
  if (qInv >= p || (qInv * q) % p !== 1n) throw new KeyCheckError("its RSA CRT coefficient qInv is not the inverse of q modulo p");
  if (pkcs8PublicKey !== undefined) {
    // RSAPublicKey ::= SEQUENCE { modulus, publicExponent }
    const [storedN, storedE, extra] = children(readSingle(pkcs8PublicKey, TAG.SEQUENCE));
    if (extra !== undefined) throw new DerError("trailing data in the RSA public key");
    if (positiveInteger(storedN) !== n || positiveInteger(storedE) !== e) throw notItsPublicHalf("RSA private key");
  }
  return { kind: "RSA", bits };
}

/** A DER INTEGER that must be > 0 (a negative component is as wrong as a zero one). */
function positiveInteger(el: DerElement | undefined): bigint {
  const bytes = expectTag(el, TAG.INTEGER).content;
  if (bytes.length === 0) throw new DerError("empty INTEGER");
  if ((bytes[0]! & 0x80) !== 0) throw new KeyCheckError("one of its RSA components is negative");
  const value = BigInt(`0x${bytes.toString("hex")}`);
  if (value === 0n) throw new KeyCheckError("one of its RSA components is zero");
  return value;
}
