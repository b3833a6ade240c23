import { createHash, createPublicKey, sign, type KeyObject } from "node:crypto";
import { InputError } from "../../errors.js";
import type { Certificate, KeyType } from "../../x509/certificate.js";
import type { DebugLog } from "../options.js";
import type { DigestAlgorithm } from "../signer.js";
import { NODE_HASH_NAME } from "../../encoding/signature-encoding.js";

/**
 * A private key held in memory, already decrypted, that can sign. The file signer and PKCS#12 reader only
 * see this, so key families that node:crypto cannot hold (ML-DSA on OpenSSL 3.0) plug in as another
 * implementation.
 */
export interface SigningKey {
  readonly keyType: KeyType;
  /** For messages and --debug: `RSA 2048`, `EC P-256`, `ML-DSA-65`. */
  readonly description: string;
  /** The public half, when node:crypto can represent it. */
  readonly publicKey: KeyObject | undefined;
  /** DER SubjectPublicKeyInfo of the public half, to match it against a certificate. */
  readonly spki: Buffer;
  /** RSA PKCS#1 v1.5 or ECDSA (DER) over digest(message); ML-DSA signs the message itself. */
  sign(message: Uint8Array, digest: DigestAlgorithm): Buffer;
}

const CURVES: Readonly<Record<string, string>> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};


export const SUPPORTED_KEYS_HINT =
  "IAM Roles Anywhere accepts RSA 2048–4096 bits, ECDSA P-256, P-384 or P-521, and ML-DSA-44/65/87 keys";

/**
 * Wraps an RSA or EC private KeyObject, refusing key types and sizes the service does not accept.
 * `source` names the file for messages.
 */
export function keyObjectSigningKey(privateKey: KeyObject, source: string, debug?: DebugLog): SigningKey {
  const type = privateKey.asymmetricKeyType;
  const details = privateKey.asymmetricKeyDetails ?? {};
  let keyType: KeyType;
  let description: string;
  if (type === "rsa") {
    const bits = details.modulusLength ?? 0;
    if (bits < 1024) throw unsupportedKeyError(`RSA ${bits}-bit`, source);
    if (bits < 2048) {
      debug?.(`${source}: RSA ${bits}-bit key accepted for compatibility with aws_signing_helper; use 2048 bits or more`);
    } else if (bits > 4096) {
      debug?.(`${source}: RSA ${bits}-bit key is larger than the 4096 bits IAM Roles Anywhere documents`);
    }
    keyType = "RSA";
    description = `RSA ${bits}`;
  } else if (type === "ec") {
    const curve = CURVES[details.namedCurve ?? ""];
    if (curve === undefined) throw unsupportedKeyError(`ECDSA ${details.namedCurve ?? "explicit-parameters"}`, source);
    keyType = "EC";
    description = `EC ${curve}`;
  } else {
    throw unsupportedKeyError(keyTypeName(type), source);
  }
  const publicKey = createPublicKey(privateKey);
  const digestFor = (digest: DigestAlgorithm) => NODE_HASH_NAME[digest];
  return {
    keyType,
    description,
    publicKey,
    spki: publicKey.export({ type: "spki", format: "der" }),
    sign: (message, digest) => sign(digestFor(digest), message, privateKey),
  };
}

export function unsupportedKeyError(typeName: string, source: string): InputError {
  return new InputError("PRIVATE_KEY_UNSUPPORTED", `private key type ${typeName} in ${source} is not supported`, {
    hint: SUPPORTED_KEYS_HINT,
  });
}

function keyTypeName(type: string | undefined): string {
  const names: Record<string, string> = {
    "rsa-pss": "RSA-PSS",
    dsa: "DSA",
    dh: "DH",
    ed25519: "Ed25519",
    ed448: "Ed448",
    x25519: "X25519",
    x448: "X448",
  };
  return names[type ?? ""] ?? type ?? "unknown";
}

/** True when `key` is the private half of the certificate's public key. */
export async function keyMatchesCertificate(key: SigningKey, cert: Certificate): Promise<boolean> {
  const certKey = cert.publicKey;
  if (key.publicKey !== undefined && certKey !== undefined) {
    // KeyObject.equals throws (rather than answering false) for keys of different types.
    if (key.publicKey.asymmetricKeyType !== certKey.asymmetricKeyType) return false;
    try {
      return key.publicKey.equals(certKey);
    } catch {
      return false;
    }
  }
  return key.spki.equals(await certificateSpki(cert));
}

/** Short SHA-256 fingerprint of a public key (its DER SubjectPublicKeyInfo), for messages. */
export function spkiFingerprint(spki: Buffer): string {
  return createHash("sha256").update(spki).digest("hex").slice(0, 16);
}

/** The certificate's DER SubjectPublicKeyInfo (read with @peculiar when OpenSSL cannot represent the key). */
export async function certificateSpki(cert: Certificate): Promise<Buffer> {
  const key = cert.publicKey;
  if (key !== undefined) return key.export({ type: "spki", format: "der" });
  const [{ AsnConvert }, { Certificate: AsnCertificate }] = await Promise.all([
    import("@peculiar/asn1-schema"),
    import("@peculiar/asn1-x509"),
  ]);
  try {
    const spki = AsnConvert.parse(cert.der, AsnCertificate).tbsCertificate.subjectPublicKeyInfo;
    return Buffer.from(AsnConvert.serialize(spki));
  } catch (cause) {
    // OpenSSL accepted the certificate but could not read its key, and the strict ASN.1 parser rejects it.
    throw new InputError("CERTIFICATE_INVALID", "could not parse certificate: its public key cannot be read", {
      hint: "the file may be truncated or damaged; export the certificate again",
      cause,
    });
  }
}
