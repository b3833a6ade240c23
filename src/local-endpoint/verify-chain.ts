import { escapeControls, InputError } from "../errors.js";
import { ownValue } from "../own-value.js";
import type { Certificate } from "../x509/certificate.js";
import { accessDenied } from "./rejections.js";

/** The X.509 extensions and algorithms that path validation looks at, read once per certificate. */
interface CertificateFacts {
  /** basicConstraints cA; undefined when the extension is absent. */
  readonly isCa: boolean | undefined;
  readonly pathLenConstraint: number | undefined;
  /** keyUsage bit names (`digitalSignature`, `keyCertSign`, …); undefined when the extension is absent. */
  readonly keyUsage: ReadonlySet<string> | undefined;
  /** OID of the algorithm the issuer signed this certificate with. */
  readonly signatureAlgorithmOid: string;
}

const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";

/** Signature algorithms Roles Anywhere refuses (MD5 and SHA-1 based). */
const WEAK_SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10040.4.3": "dsa-with-sha1",
};

/** Reads the facts; throws CERTIFICATE_INVALID when an extension is malformed. */
export async function certificateFacts(cert: Certificate): Promise<CertificateFacts> {
  const [{ AsnConvert }, x509] = await Promise.all([import("@peculiar/asn1-schema"), import("@peculiar/asn1-x509")]);
  try {
    const parsed = AsnConvert.parse(cert.der, x509.Certificate);
    const extensions = parsed.tbsCertificate.extensions ?? [];
    const bc = extensions.find((e) => e.extnID === BASIC_CONSTRAINTS);
    const basic = bc ? AsnConvert.parse(bc.extnValue, x509.BasicConstraints) : undefined;
    const ku = extensions.find((e) => e.extnID === KEY_USAGE);
    return {
      isCa: basic?.cA,
      pathLenConstraint: basic?.pathLenConstraint,
      keyUsage: ku ? new Set<string>(AsnConvert.parse(ku.extnValue, x509.KeyUsage).toJSON()) : undefined,
      signatureAlgorithmOid: parsed.signatureAlgorithm.algorithm,
    };
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `could not read the extensions of certificate ${describe(cert)}`, { cause });
  }
}

/**
 * Longest chain followed from the leaf to an anchor (intermediates only), and below, the most chain certificates read:
 * the local endpoint's own choice, for a test stand-in. Roles Anywhere documents no limit (its user guide's
 * authentication and trust model pages); the agent sends up to 100 (read-certificates.ts); a real PKI has 1 to 3.
 */
const MAX_INTERMEDIATES = 8;
/** Each may be checked against all the others (an ECDSA P-521 check takes ~1 ms). */
const MAX_CHAIN_CERTIFICATES = 2 * MAX_INTERMEDIATES;

interface PathInput {
  readonly leaf: Certificate;
  /** The certificates of X-Amz-X509-Chain, in any order. */
  readonly intermediates: readonly Certificate[];
  readonly anchors: readonly Certificate[];
  readonly now: Date;
}

/**
 * Builds the path leaf → intermediates → trust anchor (names and signatures), then checks what RFC 5280 and
 * Roles Anywhere require of it: every certificate valid at `now`; issuers are CAs allowed to sign
 * certificates, within their path length; the leaf is an end entity usable for signatures; no MD5/SHA-1.
 */
export async function verifyCertificatePath(input: PathInput): Promise<Certificate[]> {
  if (input.intermediates.length > MAX_CHAIN_CERTIFICATES) {
    const count = input.intermediates.length;
    throw accessDenied(`Certificate chain has ${count} certificates: at most ${MAX_CHAIN_CERTIFICATES} are accepted`);
  }
  const path = await findPath(input);
  if (!path) {
    throw accessDenied(
      `Untrusted signing certificate: no trust anchor or X-Amz-X509-Chain certificate issued ${describe(input.leaf)}`,
    );
  }
  const invalid = (error: Error) => {
    throw accessDenied(`Invalid certificate in chain: ${error.message}`);
  };
  const facts = await Promise.all(path.map((cert) => certificateFacts(cert).catch(invalid)));
  checkLeaf(input.leaf, facts[0]!, input.now);
  for (let i = 1; i < path.length; i++) {
    checkIssuer(path[i]!, facts[i]!, { below: i - 1, isAnchor: i === path.length - 1, now: input.now });
  }
  return path;
}

/**
 * Breadth first, each certificate reached once (`below`: the one it was found to issue): at most n × (n + anchors)
 * signature checks, where trying every order took minutes for 9 chain certificates that all issue one another.
 */
async function findPath(input: PathInput): Promise<Certificate[] | undefined> {
  const below = new Map<Certificate, Certificate | undefined>([[input.leaf, undefined]]);
  for (let level = [input.leaf], depth = 0; level.length > 0; depth++) {
    const next: Certificate[] = [];
    for (const cert of level) {
      for (const anchor of input.anchors) {
        if (!(await issued(anchor, cert))) continue;
        const path = [anchor];
        for (let c: Certificate | undefined = cert; c; c = below.get(c)) path.unshift(c);
        return path;
      }
      if (depth >= MAX_INTERMEDIATES) continue;
      for (const candidate of input.intermediates) {
        if (below.has(candidate) || !(await issued(candidate, cert))) continue;
        below.set(candidate, cert);
        next.push(candidate);
      }
    }
    level = next;
  }
  return undefined;
}

/** True when `issuer`'s subject is `child`'s issuer and its key verifies `child`'s signature. */
async function issued(issuer: Certificate, child: Certificate): Promise<boolean> {
  if (issuer.subject !== child.issuer) return false;
  const key = issuer.publicKey;
  if (!key) {
    // OpenSSL 3.0 cannot hold an ML-DSA key: such issuers are checked by the ML-DSA verifier.
    const { verifyMlDsaCertificateSignature } = await import("../signers/file/mldsa/verify.js");
    return verifyMlDsaCertificateSignature(child, issuer);
  }
  return child.signedWith(key);
}

function checkLeaf(leaf: Certificate, facts: CertificateFacts, now: Date): void {
  if (now < leaf.notBefore) throw accessDenied(`Signing certificate is not yet valid (valid from ${leaf.notBefore.toISOString()})`);
  if (now > leaf.notAfter) throw accessDenied(`Signing certificate expired (${leaf.notAfter.toISOString()})`);
  if (facts.isCa === true) throw accessDenied("Signing certificate must be an end-entity certificate, not a CA (basicConstraints CA:TRUE)");
  if (facts.keyUsage && !facts.keyUsage.has("digitalSignature")) {
    throw accessDenied("Signing certificate keyUsage does not include digitalSignature");
  }
  rejectWeakAlgorithm(facts, "Signing certificate");
}

function checkIssuer(cert: Certificate, facts: CertificateFacts, at: { below: number; isAnchor: boolean; now: Date }): void {
  const what = at.isAnchor ? "Trust anchor certificate" : "Certificate in chain";
  const name = describe(cert);
  if (at.now < cert.notBefore) throw accessDenied(`${what} is not yet valid: ${name}`);
  if (at.now > cert.notAfter) throw accessDenied(`${what} expired: ${name}`);
  if (facts.isCa !== true) throw accessDenied(`${what} is not a CA (basicConstraints CA:TRUE missing): ${name}`);
  if (facts.keyUsage && !facts.keyUsage.has("keyCertSign")) {
    throw accessDenied(`${what} keyUsage does not include keyCertSign: ${name}`);
  }
  if (facts.pathLenConstraint !== undefined && at.below > facts.pathLenConstraint) {
    throw accessDenied(`Certificate chain exceeds the path length constraint (${facts.pathLenConstraint}) of ${name}`);
  }
  // An anchor's own signature is not part of the trust decision.
  if (!at.isAnchor) rejectWeakAlgorithm(facts, `${what} ${name}`);
}

function rejectWeakAlgorithm(facts: CertificateFacts, what: string): void {
  const weak = ownValue(WEAK_SIGNATURE_ALGORITHMS, facts.signatureAlgorithmOid);
  if (weak) throw accessDenied(`${what} is signed with ${weak}: SHA-256 or stronger is required`);
}

/** A certificate's subject on one line, e.g. `CN=device-1, O=Example`; the client chose it: controls escaped. */
export function describe(cert: Certificate): string {
  return `"${escapeControls(cert.subject.split("\n").join(", "))}"`;
}
