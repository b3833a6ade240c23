import { TAG, children, readSingle, unlessMalformed } from "../encoding/der.js";
import { derFromBer } from "../encoding/der-writer.js";
import { decodePemBlocks, looksLikePem, wipeKeyBlocks } from "../encoding/pem.js";

type DerKind = "CERTIFICATE" | "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" | "PKCS12";

/** `SEQUENCE (indefinite length) { INTEGER 3, SEQUENCE …`. */
const BER_PFX_V3 = Buffer.from([TAG.SEQUENCE, 0x80, TAG.INTEGER, 1, 3, TAG.SEQUENCE]);

/**
 * Recognises a DER structure by its outline, without fully parsing it, and names it after the PEM label the
 * same structure would carry; undefined when unknown.
 */
export function classifyDer(bytes: Buffer): DerKind | undefined {
  // A PFX with an indefinite outer length (BER, as OpenSSL and Go read it; the PKCS#12 reader takes BER too).
  if (bytes.subarray(0, 6).equals(BER_PFX_V3)) return "PKCS12";
  const kind = outline(bytes);
  if (kind !== undefined || bytes[0] !== TAG.SEQUENCE) return kind;
  // BER inside a definite outer length: a PFX is read (as above), a key is not (key-material.ts says why).
  const der = unlessMalformed(() => derFromBer(bytes));
  const pfx = der !== undefined && outline(der) === "PKCS12";
  der?.fill(0); // it may hold a key
  return pfx ? "PKCS12" : undefined;
}

function outline(bytes: Buffer): DerKind | undefined {
  return unlessMalformed(() => {
    const items = children(readSingle(bytes, TAG.SEQUENCE));
    const [a, b, c] = items;
    if (!a || !b) return undefined;
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE, signature BIT STRING }
    if (items.length === 3 && a.tag === TAG.SEQUENCE && b.tag === TAG.SEQUENCE && c?.tag === TAG.BIT_STRING) {
      return "CERTIFICATE";
    }
    // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm SEQUENCE, encryptedData OCTET STRING }
    if (items.length === 2 && a.tag === TAG.SEQUENCE && b.tag === TAG.OCTET_STRING) return "ENCRYPTED PRIVATE KEY";
    if (a.tag !== TAG.INTEGER) return undefined;
    // Keys by their shape, whatever their version (OpenSSL reads any; the key checks name a wrong one), as PEM is.
    // PrivateKeyInfo / OneAsymmetricKey ::= SEQUENCE { version 0|1, algorithm SEQUENCE, privateKey OCTET STRING, … }
    if (b.tag === TAG.SEQUENCE && c?.tag === TAG.OCTET_STRING) return "PRIVATE KEY";
    // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }
    if (b.tag === TAG.OCTET_STRING) return "EC PRIVATE KEY";
    // RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dp, dq, qinv, … } — all INTEGERs
    if (items.length >= 9 && items.slice(0, 9).every((i) => i.tag === TAG.INTEGER)) return "RSA PRIVATE KEY";
    // PFX ::= SEQUENCE { version 3, authSafe ContentInfo, macData MacData OPTIONAL } (the reader names a wrong version)
    if (b.tag === TAG.SEQUENCE && items.length <= 3 && (c === undefined || c.tag === TAG.SEQUENCE)) return "PKCS12";
    return undefined;
  });
}

/**
 * Whether a key or certificate file holds a private key: a PEM block whose label ends in PRIVATE KEY (PKCS#8, encrypted,
 * RSA, EC, OpenSSH, TSS2; the key blocks decoded to read their labels are wiped), or DER of a key's outline. Throws
 * what decodePemBlocks throws for PEM text it cannot decode.
 */
export function holdsPrivateKey(bytes: Buffer, path: string): boolean {
  if (!looksLikePem(bytes)) return classifyDer(bytes)?.endsWith("PRIVATE KEY") ?? false;
  const blocks = decodePemBlocks(bytes, path);
  wipeKeyBlocks(blocks);
  return blocks.some((block) => block.label.endsWith("PRIVATE KEY"));
}
