/**
 * ML-DSA keys and certificates for tests. OpenSSL 3.0 knows nothing of ML-DSA, so these are built here with
 * @noble/post-quantum and @peculiar/asn1-x509 (never with the agent's own encoders):
 * - ML-DSA leaves issued by an EC or RSA CA from pki.ts (the CA signs the TBSCertificate with node:crypto);
 * - self-signed ML-DSA certificates and ML-DSA CAs (signatureAlgorithm = the ML-DSA OID, no parameters);
 * - PKCS#8 files in the three RFC 9881 encodings, plain or encrypted with the test PBES2 encryptor.
 */
import { createHash, createPrivateKey, randomBytes, sign as nodeSign } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
} from "@peculiar/asn1-x509";
import { encryptPkcs8, type Pbes2Options } from "./pbes2-encrypt.js";
import type { CaHandle } from "./pki.js";

export const ML_DSA_KEY_TYPES = ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"] as const;
export type MlDsaKeyTypeName = (typeof ML_DSA_KEY_TYPES)[number];

export const ML_DSA_OID: Record<MlDsaKeyTypeName, string> = {
  "ML-DSA-44": "2.16.840.1.101.3.4.3.17",
  "ML-DSA-65": "2.16.840.1.101.3.4.3.18",
  "ML-DSA-87": "2.16.840.1.101.3.4.3.19",
};

export function mlDsaImplementation(keyType: MlDsaKeyTypeName) {
  return { "ML-DSA-44": ml_dsa44, "ML-DSA-65": ml_dsa65, "ML-DSA-87": ml_dsa87 }[keyType];
}

export interface MlDsaKeyPair {
  readonly keyType: MlDsaKeyTypeName;
  readonly seed: Buffer;
  readonly publicKey: Buffer;
  /** The FIPS 204 expanded private key. */
  readonly secretKey: Buffer;
}

export function generateMlDsaKeyPair(keyType: MlDsaKeyTypeName, seed: Uint8Array = randomBytes(32)): MlDsaKeyPair {
  const { publicKey, secretKey } = mlDsaImplementation(keyType).keygen(seed);
  return { keyType, seed: Buffer.from(seed), publicKey: Buffer.from(publicKey), secretKey: Buffer.from(secretKey) };
}

/** Pure ML-DSA, empty context, deterministic: what the agent (and aws_signing_helper) produce. */
export function mlDsaSign(pair: MlDsaKeyPair, message: Uint8Array): Buffer {
  return Buffer.from(mlDsaImplementation(pair.keyType).sign(message, pair.secretKey, { extraEntropy: false }));
}

export function mlDsaVerify(keyType: MlDsaKeyTypeName, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return mlDsaImplementation(keyType).verify(signature, message, publicKey);
}

// --- PKCS#8 -------------------------------------------------------------------------------------------

/** RFC 9881 ML-DSA-PrivateKey `both` alternative. */
@AsnType({ type: AsnTypeTypes.Sequence })
class MlDsaSeedAndExpanded {
  @AsnProp({ type: AsnPropTypes.OctetString }) seed = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.OctetString }) expandedKey = new ArrayBuffer(0);
}

/** RFC 9881 `ML-DSA-PrivateKey ::= CHOICE { seed [0] IMPLICIT OCTET STRING, expandedKey OCTET STRING, both SEQUENCE }`. */
@AsnType({ type: AsnTypeTypes.Choice })
class MlDsaPrivateKeyChoice {
  @AsnProp({ type: AsnPropTypes.OctetString, context: 0, implicit: true }) seed?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.OctetString }) expandedKey?: ArrayBuffer;
  @AsnProp({ type: MlDsaSeedAndExpanded }) both?: MlDsaSeedAndExpanded;
}

/** RFC 5958 OneAsymmetricKey (PKCS#8 v2), with the optional publicKey. */
@AsnType({ type: AsnTypeTypes.Sequence })
class OneAsymmetricKey {
  @AsnProp({ type: AsnPropTypes.Integer }) version = 0;
  @AsnProp({ type: AlgorithmIdentifier }) privateKeyAlgorithm = new AlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.OctetString }) privateKey = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.BitString, context: 1, implicit: true, optional: true }) publicKey?: ArrayBuffer;
}

export type MlDsaKeyForm = "seed" | "expanded" | "both";
export const ML_DSA_KEY_FORMS: readonly MlDsaKeyForm[] = ["seed", "expanded", "both"];

function ab(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The DER of the ML-DSA-PrivateKey CHOICE alone (what goes inside PrivateKeyInfo.privateKey). */
export function mlDsaPrivateKeyChoiceDer(pair: MlDsaKeyPair, form: MlDsaKeyForm): Buffer {
  const choice = new MlDsaPrivateKeyChoice();
  if (form === "seed") choice.seed = ab(pair.seed);
  else if (form === "expanded") choice.expandedKey = ab(pair.secretKey);
  else {
    const both = new MlDsaSeedAndExpanded();
    both.seed = ab(pair.seed);
    both.expandedKey = ab(pair.secretKey);
    choice.both = both;
  }
  return Buffer.from(AsnConvert.serialize(choice));
}

/**
 * A PKCS#8 PrivateKeyInfo for `pair`. `privateKeyDer` replaces the encoded CHOICE (to build malformed keys);
 * `publicKey` adds OneAsymmetricKey's publicKey field (version 1).
 */
export function mlDsaPkcs8Der(
  pair: MlDsaKeyPair,
  form: MlDsaKeyForm,
  options: { privateKeyDer?: Uint8Array; publicKey?: Uint8Array; version?: number; algorithmOid?: string } = {},
): Buffer {
  const key = new OneAsymmetricKey();
  key.version = options.version ?? (options.publicKey ? 1 : 0);
  key.privateKeyAlgorithm = new AlgorithmIdentifier({ algorithm: options.algorithmOid ?? ML_DSA_OID[pair.keyType] });
  key.privateKey = ab(options.privateKeyDer ?? mlDsaPrivateKeyChoiceDer(pair, form));
  if (options.publicKey) key.publicKey = ab(options.publicKey);
  return Buffer.from(AsnConvert.serialize(key));
}

export function toPem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Writes the key as PEM (or DER); encrypted with the test PBES2 encryptor when `encryption` is given. */
export function writeMlDsaKey(
  path: string,
  pair: MlDsaKeyPair,
  form: MlDsaKeyForm,
  options: { encryption?: { password: string; options: Pbes2Options }; der?: boolean } = {},
): string {
  let der = mlDsaPkcs8Der(pair, form);
  let label = "PRIVATE KEY";
  if (options.encryption) {
    der = encryptPkcs8(der, options.encryption.password, options.encryption.options);
    label = "ENCRYPTED PRIVATE KEY";
  }
  writeFileSync(path, options.der ? der : toPem(label, der));
  return path;
}

export function mlDsaSpkiDer(pair: Pick<MlDsaKeyPair, "keyType" | "publicKey">): Buffer {
  const spki = new SubjectPublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithm: ML_DSA_OID[pair.keyType] }),
    subjectPublicKey: ab(pair.publicKey),
  });
  return Buffer.from(AsnConvert.serialize(spki));
}

// --- certificates -------------------------------------------------------------------------------------

/** Who signs a TBSCertificate: its name, key identifier, signature algorithm and signing function. */
export interface CertificateIssuer {
  readonly name: Name;
  readonly keyIdentifier: Buffer | undefined;
  readonly algorithm: AlgorithmIdentifier;
  sign(tbs: Buffer): Buffer;
}

const NULL_PARAMETERS = new Uint8Array([5, 0]).buffer;

/** A CA made by pki.ts (openssl): EC keys sign with ecdsa-with-SHA256, RSA keys with sha256WithRSAEncryption. */
export function opensslCaIssuer(ca: CaHandle): CertificateIssuer {
  const key = createPrivateKey(readFileSync(ca.keyPath));
  const cert = parseCertificatePem(ca.certPem);
  const isEc = key.asymmetricKeyType === "ec";
  return {
    name: cert.tbsCertificate.subject,
    keyIdentifier: subjectKeyIdentifierOf(cert),
    algorithm: isEc
      ? new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" })
      : new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: NULL_PARAMETERS }),
    sign: (tbs) => nodeSign("sha256", tbs, isEc ? { key, dsaEncoding: "der" } : key),
  };
}

/** An ML-DSA key as issuer (its own certificate's subject, or `subject` for a self-signed one). */
export function mlDsaIssuer(pair: MlDsaKeyPair, subject: Name): CertificateIssuer {
  return {
    name: subject,
    keyIdentifier: keyIdentifier(pair.publicKey),
    algorithm: new AlgorithmIdentifier({ algorithm: ML_DSA_OID[pair.keyType] }),
    sign: (tbs) => mlDsaSign(pair, tbs),
  };
}

export function commonName(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: "2.5.4.3", value: new AttributeValue({ utf8String: cn }) })]),
  ]);
}

export interface CertificateSpec {
  issuer: CertificateIssuer;
  subject: Name;
  /** DER SubjectPublicKeyInfo of the subject's key. */
  spki: Buffer;
  ca?: boolean;
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Replaces the default extensions (CA or end-entity profile). */
  extensions?: Extension[];
}

/** Builds and signs a v3 certificate; returns its DER. */
export function buildCertificate(spec: CertificateSpec): Buffer {
  const spki = AsnConvert.parse(spec.spki, SubjectPublicKeyInfo);
  const now = Date.now();
  const notBefore = spec.notBefore ?? new Date(now - 60_000);
  const notAfter = spec.notAfter ?? new Date(now + (spec.days ?? 365) * 86_400_000);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const subjectKeyId = keyIdentifier(Buffer.from(spki.subjectPublicKey));
  const extensions = spec.extensions ?? [
    extension(id_ce_basicConstraints, true, new BasicConstraints(spec.ca ? { cA: true } : {})),
    extension(
      id_ce_keyUsage,
      true,
      new KeyUsage(spec.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature : KeyUsageFlags.digitalSignature),
    ),
    ...(spec.ca ? [] : [extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth]))]),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(subjectKeyId)),
    ...(spec.issuer.keyIdentifier
      ? [extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(spec.issuer.keyIdentifier) }))]
      : []),
  ];
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(serial),
    signature: spec.issuer.algorithm,
    issuer: spec.issuer.name,
    validity: new Validity({ notBefore, notAfter }),
    subject: spec.subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: spec.issuer.algorithm,
    signatureValue: ab(spec.issuer.sign(tbsDer)),
  });
  return Buffer.from(AsnConvert.serialize(certificate));
}

function extension(oid: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: Uint8Array): Buffer {
  return createHash("sha1").update(publicKey).digest();
}

function parseCertificatePem(pem: string): Certificate {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return AsnConvert.parse(der, Certificate);
}

function subjectKeyIdentifierOf(cert: Certificate): Buffer | undefined {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  return ext ? Buffer.from(AsnConvert.parse(ext.extnValue, SubjectKeyIdentifier).buffer) : undefined;
}

export function serialDecimalOf(der: Buffer): string {
  const cert = AsnConvert.parse(der, Certificate);
  return BigInt(`0x${Buffer.from(cert.tbsCertificate.serialNumber).toString("hex")}`).toString(10);
}

// --- ready-made files -----------------------------------------------------------------------------------

export interface MlDsaLeaf {
  readonly pair: MlDsaKeyPair;
  readonly certPath: string;
  readonly certDer: Buffer;
  readonly keyPath: string;
  readonly serialDecimal: string;
}

/**
 * An ML-DSA key and its end-entity certificate issued by `issuer` (an openssl CA from pki.ts, or an
 * ML-DSA CA), written as `<name>.pem` and `<name>.key` (PKCS#8 in `form`, default `both`) under `dir`.
 */
export function issueMlDsaLeaf(
  issuer: CaHandle | CertificateIssuer,
  dir: string,
  options: { name: string; keyType: MlDsaKeyTypeName; form?: MlDsaKeyForm; seed?: Uint8Array; days?: number },
): MlDsaLeaf {
  mkdirSync(dir, { recursive: true });
  const pair = generateMlDsaKeyPair(options.keyType, options.seed);
  const signer = "sign" in issuer ? issuer : opensslCaIssuer(issuer);
  const certDer = buildCertificate({
    issuer: signer,
    subject: commonName(options.name),
    spki: mlDsaSpkiDer(pair),
    ...(options.days !== undefined ? { days: options.days } : {}),
  });
  const base = join(dir, options.name.replace(/[^A-Za-z0-9._-]/g, "_"));
  writeFileSync(`${base}.pem`, toPem("CERTIFICATE", certDer));
  writeMlDsaKey(`${base}.key`, pair, options.form ?? "both");
  return { pair, certPath: `${base}.pem`, certDer, keyPath: `${base}.key`, serialDecimal: serialDecimalOf(certDer) };
}

export interface MlDsaCa {
  readonly pair: MlDsaKeyPair;
  readonly certPath: string;
  readonly certDer: Buffer;
  readonly issuer: CertificateIssuer;
}

/** An ML-DSA CA: self-signed with its own key (a root), or issued by `options.issuer` (an intermediate). */
export function createMlDsaCa(
  dir: string,
  options: { name: string; keyType: MlDsaKeyTypeName; issuer?: CertificateIssuer },
): MlDsaCa {
  mkdirSync(dir, { recursive: true });
  const pair = generateMlDsaKeyPair(options.keyType);
  const name = commonName(options.name);
  const issuer = mlDsaIssuer(pair, name);
  const signer = options.issuer ?? { ...issuer, keyIdentifier: undefined };
  const certDer = buildCertificate({ issuer: signer, subject: name, spki: mlDsaSpkiDer(pair), ca: true, days: 3650 });
  const certPath = join(dir, `${options.name.replace(/[^A-Za-z0-9._-]/g, "_")}-${randomBytes(4).toString("hex")}.pem`);
  writeFileSync(certPath, toPem("CERTIFICATE", certDer));
  return { pair, certPath, certDer, issuer };
}
