import { X509Certificate, createHash, type KeyObject } from "node:crypto";
import { assertDerForm, assertMinimalLength, children, decodeOid, decodeSignedInteger, DerError, expectTag, leadingChildren, readElement, readSingle, TAG, unlessMalformed, type DerElement } from "../encoding/der.js";
import { looksLikePem } from "../encoding/pem.js";
import { readExtensions, readTbsFields, type TbsFields } from "./tbs-fields.js";
import { curveFromEcParams } from "../encoding/signature-encoding.js";
import { goDomain, goIp, goMailbox, goString, goUri, v4Mapped } from "./go-syntax.js";
import { InputError, UsageError, type ErrorCode } from "../errors.js";
import type { Kind } from "../own-value.js";

/** Public-key families the service knows. */
export type KeyType = "RSA" | "EC" | "ML-DSA-44" | "ML-DSA-65" | "ML-DSA-87";

export type MlDsaKeyType = Extract<KeyType, `ML-DSA-${string}`>;

/** One FIPS 204 parameter set: its X.509/PKCS#8 OID and byte lengths (FIPS 204 table 2). */
export interface MlDsaParameterSet {
  readonly name: MlDsaKeyType;
  readonly oid: string;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly signatureLength: number;
}

export const ML_DSA_PARAMETER_SETS: Readonly<Record<MlDsaKeyType, MlDsaParameterSet>> = {
  "ML-DSA-44": { name: "ML-DSA-44", oid: "2.16.840.1.101.3.4.3.17", publicKeyLength: 1312, secretKeyLength: 2560, signatureLength: 2420 },
  "ML-DSA-65": { name: "ML-DSA-65", oid: "2.16.840.1.101.3.4.3.18", publicKeyLength: 1952, secretKeyLength: 4032, signatureLength: 3309 },
  "ML-DSA-87": { name: "ML-DSA-87", oid: "2.16.840.1.101.3.4.3.19", publicKeyLength: 2592, secretKeyLength: 4896, signatureLength: 4627 },
};

export function mlDsaParameterSetForOid(oid: string): MlDsaParameterSet | undefined {
  return Object.values(ML_DSA_PARAMETER_SETS).find((p) => p.oid === oid);
}

/**
 * The largest RSA modulus accepted anywhere (key files, certificates, token and TPM public keys): OpenSSL's
 * own limit for RSA public operations. One 16384-bit signature takes ~0.5 s; 32768 bits would take ~12 s.
 */
export const MAX_RSA_MODULUS_BITS = 16_384;
/** The SubjectPublicKeyInfo (and PKCS#8) algorithm OIDs of RSA and EC keys. */
export const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
export const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

export function assertRsaModulusSize(key: KeyObject, what: string, code: ErrorCode = "CERTIFICATE_INVALID"): KeyObject {
  // Only RSA: asymmetricKeyDetails can abort Node on some EC keys with explicit parameters.
  if (key.asymmetricKeyType !== "rsa") return key;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits > MAX_RSA_MODULUS_BITS) {
    throw new InputError(code, `${what} has a ${bits}-bit RSA key, larger than the ${MAX_RSA_MODULUS_BITS} bits accepted`, {
      hint: "use an RSA 2048–4096 bit or an ECDSA key",
    });
  }
  return key;
}

/** The bytes are not an X.509 certificate at all (as opposed to one refused for what it holds). */
export class NotX509Error extends InputError {
  constructor(cause: unknown) {
    super("CERTIFICATE_INVALID", "could not parse certificate: not a valid X.509 DER structure", { cause });
  }
}

/** A name as {@link Certificate.subject} gives it (`CN=…\nO=…`) on one line, for messages: `CN=…, O=…`. */
export function oneLineName(name: string): string {
  return name.replace(/\n/g, ", ");
}

/**
 * The signed part in DER as far as Go's parser reads it: all but a v1 certificate's unique IDs and a v1 or v2 one's
 * extensions, which Go never looks at (it reads the extensions of a v3 certificate only).
 */
function assertTbsForm(tbs: DerElement): void {
  assertMinimalLength(tbs);
  const fields = children(tbs);
  const version = fields[0]?.tag === TAG.CONTEXT_0 ? fields[0].content.at(-1) : 0;
  const read = (field: DerElement) => (field.tag === 0xa3 ? version === 2 : version !== 0 || (field.tag !== 0x81 && field.tag !== 0x82));
  fields.filter(read).forEach(assertDerForm);
}

/**
 * The DER inside a certificate's OCTET and BIT STRINGs that Go's parser reads, and so refuses in BER: the value of each
 * extension its processExtensions parses ({@link GO_PARSES}; of some, only what Go reads: {@link assertGoForm}) and an
 * RSA key's SEQUENCE. Go never reads another extension's value, a vendor's (a YubiKey attestation's firmware version
 * is the raw bytes 05 04 03) or a standard one's (issuerAltName), nor does this; but it refuses any extension twice
 * (RFC 5280 §4.2), which OpenSSL reads, and a value that is not an OCTET STRING.
 */
function nestedDer({ version, subjectPublicKeyInfo, extensions }: TbsFields, what: string): [string, Buffer, string?][] {
  // Go reads extensions only in a v3 certificate (`02 01 02`): a v1 or v2 one's are not its concern.
  const all = readExtensions(version?.content[2] === 2 ? extensions : undefined);
  all.forEach(({ oid }) => goArcs(oid, ` in its extension ${oid}`));
  const twice = all.map(({ oid }) => oid).sort().find((oid, i, sorted) => oid === sorted[i + 1]);
  if (twice !== undefined) {
    throw new InputError("CERTIFICATE_INVALID", `${what} has the extension ${twice} twice`, {
      hint: "RFC 5280 allows each extension once and AWS's parser refuses the certificate: have it issued again",
    });
  }
  const out = all
    .map(({ oid, value }): [string, Buffer, string?] => [`in its extension ${oid}`, expectTag(value, TAG.OCTET_STRING).content, oid])
    .filter(([, , oid]) => GO_PARSES.has(oid!));
  const [algorithm, key] = children(subjectPublicKeyInfo);
  if (decodeOid(readElement(expectTag(algorithm, TAG.SEQUENCE).content)) === RSA_ENCRYPTION) {
    out.push(["in its RSA public key", expectTag(key, TAG.BIT_STRING).content.subarray(1)]);
  }
  return out;
}

const AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1";
const POLICIES = "2.5.29.32";
const SUBJECT_ALT_NAME = "2.5.29.17";
const AUTHORITY_KEY_ID = "2.5.29.35";
const NAME_CONSTRAINTS = "2.5.29.30";
const CRL_DISTRIBUTION_POINTS = "2.5.29.31";
const BASIC_CONSTRAINTS = "2.5.29.19";
/** The extensions Go's parser reads (parser.go processExtensions); of any other it notes only a critical flag. */
const GO_PARSES = new Set(["14", "15", "17", "19", "30", "31", "32", "33", "35", "36", "37", "54"].map((n) => `2.5.29.${n}`).concat(AUTHORITY_INFO_ACCESS));
/**
 * The values Go's parser refuses bytes after: nameConstraints' ('invalid NameConstraints extension'), and since the
 * release after go1.27 ('trailing data after key usage', …) keyUsage's, basicConstraints', subjectAltName's,
 * extKeyUsage's and certificatePolicies'. Any other, and an RSA key's SEQUENCE, it reads as its first element, whatever
 * follows.
 */
const WHOLE_VALUE = new Set(["15", "17", "19", "30", "32", "37"].map((n) => `2.5.29.${n}`));
/** The type of an extension's value as Go reads it; a SEQUENCE but for these. */
const VALUE_TAG: Record<string, number> = { "2.5.29.14": TAG.OCTET_STRING, "2.5.29.15": TAG.BIT_STRING, "2.5.29.54": TAG.INTEGER };

/**
 * An extension's value in the form Go's parser reads it: each element cryptobyte reads with a minimal length, and the
 * OIDs and integers it decodes in DER. Go never reads a policy's qualifiers, a subjectAltName's otherName or
 * directoryName, an access location other than a URI, a name constraint's directoryName or what follows a subtree's
 * base (its distances), an AKI's issuer and serial, what follows a pathLen, a distribution point's reasons and
 * cRLIssuer or a fullName's names after its URIs, a policy mapping's third element: BER there is read (as OpenSSL
 * reads it). keyUsage, extKeyUsage, inhibitAnyPolicy, subjectKeyIdentifier: DER throughout.
 */
function assertGoForm(oid: string | undefined, value: DerElement): void {
  const lengths = (el: DerElement | undefined, depth: number): void => {
    if (el === undefined) return;
    assertMinimalLength(el);
    if (depth > 0) children(el).forEach((child) => lengths(child, depth - 1));
  };
  if (oid === SUBJECT_ALT_NAME) return lengths(value, 1);
  if (oid === NAME_CONSTRAINTS) {
    lengths(value, 2);
    return children(value).forEach((list) => children(list).forEach((subtree) => lengths(leadingChildren(subtree, 1)[0], 0)));
  }
  if (oid === AUTHORITY_KEY_ID) {
    const [keyId] = leadingChildren(value, 1);
    lengths(value, 0);
    return lengths(keyId?.tag === 0x80 ? keyId : undefined, 0);
  }
  if (oid === BASIC_CONSTRAINTS || oid === "2.5.29.36") {
    // cA then pathLen; requireExplicitPolicy [0] then inhibitPolicyMapping [1]: each optional, read where it is
    lengths(value, 0);
    const [first, second] = leadingChildren(value, 2);
    const [tag0, tag1] = oid === BASIC_CONSTRAINTS ? [TAG.BOOLEAN, TAG.INTEGER] : [0x80, 0x81];
    const [a, b] = first?.tag === tag0 ? [first, second] : [undefined, first];
    if (a) goInteger(a, oid === BASIC_CONSTRAINTS);
    if (b?.tag === tag1) goInteger(b);
    return;
  }
  if (oid === CRL_DISTRIBUTION_POINTS) {
    lengths(value, 1);
    for (const point of children(value)) {
      const [name] = leadingChildren(point, 1);
      if (name?.tag !== TAG.CONTEXT_0) continue;
      const [fullName] = leadingChildren(name, 1);
      lengths(name, 0);
      lengths(fullName, 0);
      // its URIs [6], up to the first other name
      for (let at = 0, uri; fullName && at < fullName.content.length && (uri = readElement(fullName.content, at)).tag === 0x86; at += uri.raw.length) lengths(uri, 0);
    }
    return;
  }
  if (oid === "2.5.29.33") {
    lengths(value, 1);
    return children(value).forEach((mapping) => leadingChildren(expectTag(mapping, TAG.SEQUENCE), 2).forEach((id) => lengths(expectTag(id, TAG.OID), 0)));
  }
  if (oid !== POLICIES && oid !== AUTHORITY_INFO_ACCESS) return assertDerForm(value);
  lengths(value, 1);
  // A policy's OID; an access method and a URI location
  for (const [id, location] of children(value).map((item) => leadingChildren(expectTag(item, TAG.SEQUENCE), oid === POLICIES ? 1 : 2))) {
    if (id !== undefined) assertDerForm(id);
    if (oid === AUTHORITY_INFO_ACCESS && location?.tag === 0x86) lengths(location, 0);
  }
}

/** An INTEGER (or an [n] IMPLICIT one) as cryptobyte reads it into an int64: DER, at most 8 bytes; a BOOLEAN in DER. */
function goInteger(el: DerElement, boolean = false): void {
  assertDerForm(boolean ? el : { ...el, tag: TAG.INTEGER });
  if (!boolean && el.content.length > 8) throw new DerError("an integer beyond 64 bits");
}

/**
 * Throws for an OID Go's asn1.ObjectIdentifier cannot hold (an extension's, an EKU, an access method): cryptobyte reads
 * each subidentifier (40 × arc 1 + arc 2 first) into 31 bits.
 */
function goArcs(oid: string, where = ""): void {
  const arcs = oid.split(".").map(Number);
  // Valid DER that Go's parser refuses ("malformed extension OID field"): a malformed value, not a form of DER.
  if ([arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)].some((arc) => arc >= 2 ** 31)) throw new DerError(`a malformed value${where}`, "value");
}

/**
 * Throws DerError for what Go's parser refuses in DER that OpenSSL reads (crypto/x509 parser.go): a malformed OID in
 * extKeyUsage, a policy or an access method (or one too large, but a policy's), a policy twice, and a subjectAltName email, DNS name or URI that is not
 * IA5, a URI url.Parse refuses or whose host is no domain, an IP address of neither 4 nor 16 bytes or IPv4-mapped;
 * nameConstraints' lists other than [0] then [1], a basicConstraints pathLen beyond Go's int, a CRL distribution
 * point named otherwise than by a fullName.
 */
function assertGoReads(oid: string | undefined, value: DerElement): void {
  expectTag(value, VALUE_TAG[oid!] ?? TAG.SEQUENCE);
  if (oid === "2.5.29.54" && value.content.length > 8) throw new DerError("an inhibitAnyPolicy beyond 64 bits");
  if (oid === "2.5.29.37") children(value).forEach((eku) => goArcs(decodeOid(eku)));
  if (oid === AUTHORITY_INFO_ACCESS) children(value).forEach((item) => goArcs(decodeOid(leadingChildren(item, 1)[0])));
  if (oid === POLICIES) {
    // A policy is an x509.OID (Go 1.22+): of any size, each subidentifier minimal, compared as DER.
    const ids = children(value).map((item) => expectTag(leadingChildren(item, 1)[0], TAG.OID).content);
    if (ids.some((id) => id.length === 0 || id.at(-1)! > 0x7f || id.some((b, i) => b === 0x80 && !(id[i - 1]! > 0x7f)))) throw new DerError("a malformed policy");
    if (new Set(ids.map((id) => id.toString("hex"))).size < ids.length) throw new DerError("a policy twice");
  }
  if (oid === "2.5.29.30") {
    const lists = children(value);
    if (!["", "160", "161", "160,161"].includes(lists.map((list) => list.tag).join())) throw new DerError("not [0] then [1]");
    assertGoReadsConstraints(lists.map((subtrees) => children(subtrees)));
  }
  if (oid === BASIC_CONSTRAINTS) {
    const [first, second] = leadingChildren(value, 2);
    const pathLen = first?.tag === TAG.BOOLEAN ? second : first;
    // read into a uint and refused over MaxInt (go1.19 read a negative one into an int)
    if (pathLen?.tag === TAG.INTEGER && pathLen.content[0]! >= 0x80) throw new DerError("a negative pathLen");
  }
  // A distribution point's name [0] is Go's only if it is a fullName [0] (nameRelativeToCRLIssuer [1] is refused).
  if (oid === CRL_DISTRIBUTION_POINTS) for (const point of children(value)) {
    const [name] = leadingChildren(expectTag(point, TAG.SEQUENCE), 1);
    if (name?.tag === TAG.CONTEXT_0 && readElement(name.content).tag !== TAG.CONTEXT_0) throw new DerError("not a fullName");
  }
  if (oid !== "2.5.29.17") return;
  for (const { tag, content } of children(value)) {
    const ia5 = ![0x81, 0x82, 0x86].includes(tag) || content.every((b) => b < 0x80);
    if (tag === 0x87 ? (content.length !== 4 && content.length !== 16) || v4Mapped(content) : !ia5 || (tag === 0x86 && !goUri(content.toString("latin1")))) {
      throw new DerError("a name that is not IA5, a URI Go cannot parse or an IP address Go refuses");
    }
  }
}

/**
 * Go's parseNameConstraintsExtension: not both lists of subtrees empty or absent (one empty beside the other is read,
 * as go1.19 reads it; current Go refuses it, 'empty name constraints subtree sequence': a difference kept on purpose);
 * an IP range of 8 or 32 bytes whose mask is ones then zeros; a DNS, URI or email domain constraint empty or (after one
 * leading '.') of non-empty labels of bytes 0x21-0x7e (domainNameValid), a URI one not an IP address; an email mailbox
 * constraint in IA5 that parseRFC2821Mailbox reads; no IPv4-mapped IPv6 range (current Go).
 */
function assertGoReadsConstraints(lists: DerElement[][]): void {
  if (lists.every((subtrees) => subtrees.length === 0)) throw new DerError("empty name constraints");
  for (const subtree of lists.flat()) {
    const { tag, content } = readElement(expectTag(subtree, TAG.SEQUENCE).content);
    const mask = content.subarray(content.length / 2);
    const i = mask.findIndex((b) => b !== 0xff);
    const zeros = ~mask[i]! & 0xff; // a byte of ones then zeros leaves zeros + 1 a power of two
    const maskGap = i >= 0 && ((zeros & (zeros + 1)) !== 0 || mask.subarray(i + 1).some((b) => b !== 0));
    const text = content.toString("latin1");
    if (tag === 0x87 ? (content.length !== 8 && content.length !== 32) || maskGap || v4Mapped(content)
      : tag === 0x81 && content.includes(0x40) ? content.some((b) => b > 0x7f) || !goMailbox(text)
        : [0x81, 0x82, 0x86].includes(tag) && (!goDomain(text) || (tag === 0x86 && goIp(text)))) {
      throw new DerError("a name constraint Go refuses");
    }
  }
}

/**
 * What Go's parser refuses in the fields it reads itself (parseAI, parseName) and OpenSSL reads: a signature algorithm
 * other than the one signed (the TBS's), an OID Go cannot hold in an algorithm or a name's attribute type, and a name's
 * string with characters its type has not (current Go: a PrintableString's set, UTF-8, IA5, digits and space, a
 * BMPString without noncharacters or surrogates).
 */
function assertGoReadsFields({ version, signature, issuer, subject, subjectPublicKeyInfo }: TbsFields, outerAlgorithm: DerElement | undefined, key: KeyObject | undefined, what: string): void {
  const name = (rdns: DerElement) => children(rdns).flatMap((set) => children(set)).forEach((atv) => {
    const [type, value] = children(atv);
    goArcs(decodeOid(type));
    if (value !== undefined && !goString(value)) throw new DerError("a string Go refuses");
  });
  // One function, not one closure per check: each closure costs a compilation on a cold run.
  let where = "in its version";
  try {
    const [number] = version ? children(version, 1) : [];
    if (version && !(expectTag(number, TAG.INTEGER).content.length === 1 && number!.content[0]! <= 2)) throw new DerError("not v1-v3");
    where = "in its signature algorithm";
    goArcs(decodeOid(children(signature)[0]));
    if (!outerAlgorithm?.raw.equals(signature.raw)) throw new DerError("not the signed one");
    where = "in its public key algorithm";
    goArcs(decodeOid(children(children(subjectPublicKeyInfo)[0]!)[0]));
    where = "in its public key";
    assertGoReadsKey(subjectPublicKeyInfo, key, what);
    where = "in its issuer";
    name(issuer);
    where = "in its subject";
    name(subject);
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw e.kind === "limit" ? new DerError(`${e.message} ${where}`, "limit") : new DerError(`a malformed value ${where}`, "value");
  }
}

/**
 * Go's parsePublicKey, for the key types it reads (any other it leaves unread): an RSA key with NULL parameters, a
 * positive modulus and a positive exponent of at most 63 bits; an EC key on P-224, P-256, P-384 or P-521 as an
 * uncompressed point on the curve; an Ed25519 or X25519 key of 32 bytes, an ML-DSA key of its set's size (current Go),
 * without parameters. Not a DSA or ML-KEM key (current Go checks their numbers; no CA issues them for signing). Go
 * right-aligns a key's BIT STRING, so unused bits shift an RSA or EC key out of shape. `read` is OpenSSL's reading of
 * it, which checks the point is on the curve as Go does.
 */
function assertGoReadsKey(spki: DerElement, read: KeyObject | undefined, what: string): void {
  const [algorithm, key] = children(spki);
  const [oid, parameters] = children(algorithm!);
  const id = decodeOid(oid);
  const bits = expectTag(key, TAG.BIT_STRING).content;
  const point = bits.subarray(1);
  if (id === RSA_ENCRYPTION) {
    const [n, e] = children(expectTag(readElement(point), TAG.SEQUENCE));
    const positive = (i: DerElement | undefined) => expectTag(i, TAG.INTEGER).content[0]! < 0x80 && i!.content.some((b) => b !== 0);
    if (bits[0] !== 0 || parameters?.raw.toString("hex") !== "0500" || !positive(n) || !positive(e) || e!.content.length > 8) throw new DerError("not Go's RSA key");
  } else if (id === EC_PUBLIC_KEY) {
    const fieldBytes = parameters?.raw.equals(P224) ? 28 : curveFromEcParams(parameters?.raw)?.fieldBytes;
    if (fieldBytes === undefined) {
      const curve = read?.asymmetricKeyDetails?.namedCurve ?? (parameters?.tag === TAG.OID ? decodeOid(parameters) : "a curve it does not name");
      throw new InputError("CERTIFICATE_INVALID", `${what} holds a key on ${curve}, which AWS's certificate parser does not read`, {
        hint: "have the CA issue a certificate for an RSA key or an ECDSA P-256, P-384 or P-521 key",
      });
    }
    if (bits[0] !== 0 || point.length !== 1 + 2 * fieldBytes || point[0] !== 4) throw new DerError("not Go's EC key");
    if (read === undefined) throw new DerError("a point off the curve");
  } else if ((id === ED25519 || id === X25519) && (parameters !== undefined || point.length !== 32)) {
    throw new DerError("not Go's Ed25519 or X25519 key");
  } else if (mlDsaParameterSetForOid(id) && (parameters !== undefined || point.length !== mlDsaParameterSetForOid(id)!.publicKeyLength)) {
    throw new DerError("not Go's ML-DSA key");
  }
}

const ED25519 = "1.3.101.112";
const X25519 = "1.3.101.110";
/** The DER of P-224's OID (secp224r1), which Go reads and the agent never signs with. */
const P224 = Buffer.from("06052b81040021", "hex");

/**
 * An X.509 certificate as the agent uses it: DER bytes plus the few facts signing needs, parsed by OpenSSL
 * (node:crypto), which is fast enough for the credential_process hot path.
 */
export class Certificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly #serial: bigint;

  /** `what` names the certificate in errors (a path, a token object). */
  constructor(der: Uint8Array, readonly what = "the certificate") {
    if (!(der instanceof Uint8Array)) throw new UsageError("USAGE", "new Certificate: der must be bytes (a Buffer)");
    this.der = Buffer.from(der);
    // Node reads PEM here too, whose "-----" the DER checks then take for an element followed by other bytes.
    if (this.der[0] !== TAG.SEQUENCE && looksLikePem(this.der)) {
      throw new InputError("CERTIFICATE_INVALID", `${what} holds PEM text, not DER`, { hint: "write it in DER: openssl x509 -in CERT -outform DER -out CERT.der" });
    }
    try {
      this.x509 = new X509Certificate(this.der);
    } catch (cause) {
      // OpenSSL 3.5 (Node 22, 24) refuses up front, with no reason, some certificates OpenSSL 3.0 (Node 20) reads (a
      // short time): the agent's own checks name the fault, alike on every Node.
      if (unlessMalformed(() => readTbsFields(this.der))) readOwnForm(this.der, what);
      throw new NotX509Error(cause);
    }
    const { outer, tbs, validity } = readOwnForm(this.der, what);
    const key = this.publicKey;
    derEncoded(what, () => {
      assertGoReadsFields(tbs, children(outer)[1], key, what);
      for (const [where, value, oid] of nestedDer(tbs, what)) {
        try {
          const element = WHOLE_VALUE.has(oid!) ? readSingle(value) : readElement(value);
          assertGoForm(oid, element);
          assertGoReads(oid, element);
        } catch (e) {
          if (!(e instanceof DerError)) throw e;
          const problem = e.kind === "form" || e.kind === "limit" ? e.message : "a malformed value";
          throw new DerError(`${problem} ${where}`, e.kind ?? "value");
        }
      }
    }, "signed");
    // Signed: RFC 5280 forbids negative serials but some CAs issued them; Go's big.Int (the reference helper) keeps
    // the sign, so we do too.
    this.#serial = decodeSignedInteger(tbs.serial.content);
    if (key !== undefined) assertRsaModulusSize(key, what);
    [this.notBefore, this.notAfter] = validity;
  }

  /** Serial number in decimal (the `Credential=` value). */
  get serialDecimal(): string {
    return this.#serial.toString(10);
  }

  /** Serial number as upper-case hex without leading zeros (read-certificate-data listing format). */
  get serialHex(): string {
    return this.#serial.toString(16).toUpperCase();
  }

  get base64(): string {
    return this.der.toString("base64");
  }

  /** `CN=…\nO=…`; "" for an empty name (node:crypto answers undefined then, whatever its type says). */
  get subject(): string {
    return this.x509.subject ?? "";
  }

  get issuer(): string {
    return this.x509.issuer ?? "";
  }

  sha1Fingerprint(): string {
    return createHash("sha1").update(this.der).digest("hex");
  }

  sha256Fingerprint(): string {
    return createHash("sha256").update(this.der).digest("hex");
  }

  /** The certificate's public key, or undefined when OpenSSL cannot represent it (ML-DSA on Node 20). */
  get publicKey(): KeyObject | undefined {
    try {
      return this.x509.publicKey;
    } catch {
      return undefined;
    }
  }

  /** True when `key` verifies this certificate's signature; false too for a key or algorithm OpenSSL refuses. */
  signedWith(key: KeyObject): boolean {
    try {
      return this.x509.verify(key);
    } catch {
      return false;
    }
  }

  /**
   * The key family, or undefined for key types the service does not accept (Ed25519, DSA…). RSA and EC come
   * from OpenSSL; anything OpenSSL 3.0 cannot represent is identified by its SPKI OID.
   */
  async keyType(): Promise<KeyType | undefined> {
    const type = this.publicKey?.asymmetricKeyType;
    if (type === "rsa") return "RSA";
    if (type === "ec") return "EC";
    if (type !== undefined && !type.startsWith("ml-dsa")) return undefined;
    return mlDsaParameterSetForOid((await this.spki()).algorithmOid)?.name;
  }

  /** The DER SubjectPublicKeyInfo and its algorithm OID, read from the certificate (off the common path). */
  async spki(): Promise<{ der: Buffer; algorithmOid: string }> {
    const { readSpki } = await import("./tbs-fields.js");
    try {
      return readSpki(this.der);
    } catch (cause) {
      throw new InputError("CERTIFICATE_INVALID", "could not parse certificate: malformed SubjectPublicKeyInfo", {
        hint: "the file may be truncated or damaged; export the certificate again",
        cause,
      });
    }
  }
}

/**
 * What the agent reads of a certificate without OpenSSL, in the order it refuses it: one DER element, then its signed
 * part and the rest in DER, then its validity times and no time as an algorithm's parameters. The times are the
 * agent's own reading, as OpenSSL 3.5 refuses some of them up front and 3.0 reads them.
 */
function readOwnForm(der: Buffer, what: string): { outer: DerElement; tbs: TbsFields; validity: [Date, Date] } {
  // OpenSSL ignores bytes after the certificate; they would be sent in X-Amz-X509 (Go's parser refuses them).
  const outer = derEncoded(what, () => readElement(der));
  const extra = der.length - outer.raw.length;
  if (extra > 0) {
    throw new InputError("CERTIFICATE_INVALID", `${what} is followed by ${extra} bytes that are not part of it`, {
      hint: "export the certificate again (openssl x509 -in CERT -out clean.pem)",
    });
  }
  const [tbs, outerAlgorithm] = children(outer);
  derEncoded(what, () => assertTbsForm(tbs!), "signed");
  derEncoded(what, () => [assertMinimalLength(outer), ...children(outer).slice(1).map(assertDerForm)]); // the rest, outside the signed part
  const fields = children(tbs!);
  const tbsFields = derEncoded(what, () => readTbsFields(der), "signed");
  const times = unlessMalformed(() => children(fields[fields[0]?.tag === TAG.CONTEXT_0 ? 4 : 3]!)) ?? [];
  const validity: [Date, Date] = [validityTime(times[0], "notBefore", what), validityTime(times[1], "notAfter", what)];
  const algorithms: [string, DerElement | undefined][] = [["signature algorithm", tbsFields.signature],
    ["public key algorithm", unlessMalformed(() => children(tbsFields.subjectPublicKeyInfo)[0])], ["outer signature algorithm", outerAlgorithm]];
  for (const [where, algorithm] of algorithms) {
    // One that OpenSSL refused may be no SEQUENCE at all: then it holds no time.
    const tag = algorithm && unlessMalformed(() => children(algorithm)[1]?.tag);
    if (tag === 0x17 || tag === 0x18) {
      throw new InputError("CERTIFICATE_INVALID", `${what} has a time as the parameters of its ${where}, which no algorithm has`, {
        hint: "have the CA issue the certificate again", // OpenSSL 3.5 refuses a short one, 3.0 reads any
      });
    }
  }
  return { outer, tbs: tbsFields, validity };
}

/**
 * A validity time as RFC 5280 §4.1.2.5 writes it (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ) or with an offset of at most ±12:59
 * (as OpenSSL reads it; Go's parser too), a real date (no leap second, no month 13); UTCTime years 50-99 are 19xx.
 * What DER forbids in a time (a fraction, −0000) {@link assertDerForm} refuses first. No regular expression: each
 * costs a compilation on every cold run.
 */
function validityTime(time: DerElement | undefined, field: string, what: string): Date {
  const text = time?.content.toString("latin1") ?? "";
  const digits = (at: number, n: number) => {
    const part = text.slice(at, at + n);
    return part.length === n && [...part].every((c) => c >= "0" && c <= "9") ? Number(part) : NaN;
  };
  const at = time?.tag === 0x17 ? 2 : 4;
  const short = digits(0, at);
  const year = time?.tag === 0x17 ? short + (short < 50 ? 2000 : 1900) : short;
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => digits(at + i, 2)) as [number, number, number, number, number];
  const zone = text.slice(at + 10);
  const [offsetHours, offsetMinutes] = zone === "Z" ? [0, 0] : zone.length === 5 && (zone[0] === "+" || zone[0] === "-") ? [digits(at + 11, 2), digits(at + 13, 2)] : [NaN, NaN];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if ((time?.tag !== 0x17 && time?.tag !== 0x18) || !(day >= 1 && day <= monthDays && hour < 24 && minute < 60 && second < 60)
    || !(offsetHours <= 12 && offsetMinutes < 60) || Number.isNaN(year)) {
    const shown = time === undefined ? "none" : text.length <= 24 && [...text].every((c) => c >= " " && c <= "~") ? `'${text}'` : `${time.content.length} bytes`;
    throw new InputError("CERTIFICATE_INVALID", `${what} has a ${field} that is not a valid time (${shown})`, {
      hint: "the CA wrote a malformed validity date: have the certificate issued again",
    });
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  const offset = (zone[0] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  date.setUTCHours(hour, minute - offset, second);
  return date;
}

/**
 * `read()` of the certificate's DER. OpenSSL also reads BER (indefinite, padded lengths): sent as is in X-Amz-X509.
 * Exporting again re-encodes only what is outside the signed part (TBSCertificate): a fault inside it, of form or
 * value, stays through any export, and only the CA can leave it out.
 */
function derEncoded<T>(what: string, read: () => T, part: "signed" | "re-encoded" = "re-encoded"): T {
  try {
    return read();
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    if (cause.kind === "limit") {
      throw new InputError("CERTIFICATE_INVALID", `${what} has ${cause.message}: Go's parser reads it, but this agent stops at 10,000 to bound its memory`, {
        hint: "have the CA issue a certificate with fewer entries", cause,
      });
    }
    const value = cause.kind === "value";
    throw new InputError("CERTIFICATE_INVALID", value ? `${what} has ${cause.message}, which AWS's certificate parser refuses` : `${what} is not DER-encoded: it has ${cause.message}`, {
      hint: value ? "have the CA issue the certificate again without it; exporting it again keeps it (openssl x509 -in CERT -noout -text shows it)"
        : part === "signed" ? "have the CA issue the certificate again in DER; exporting it again keeps its signed part as it is"
        : "export the certificate again as DER or PEM (openssl x509 -in CERT -out clean.pem)",
      cause,
    });
  }
}

/** What a library caller passes where a certificate belongs: a {@link Certificate}, not bytes or a path. */
export const CERTIFICATE: Kind = [(c) => c instanceof Certificate, "a Certificate (from readCertificateFile)"];
export const CERTIFICATES: Kind = [
  (l) => Array.isArray(l) && l.every((c) => c instanceof Certificate), "an array of Certificates",
];
