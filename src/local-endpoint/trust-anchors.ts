import { InputError } from "../errors.js";
import { readInputFile } from "../io/input-file.js";
import { Certificate } from "../x509/certificate.js";
import { parseCertificateBytes } from "../x509/read-certificates.js";
import { certificateFacts, describe } from "./verify-chain.js";

/** A trust anchor given as a certificate, a path to a PEM bundle / DER file, or PEM text. */
export type TrustAnchorSource = Certificate | string;

/**
 * Loads the trust anchors and checks that each is a CA certificate allowed to sign certificates
 * (basicConstraints CA:TRUE; keyCertSign when keyUsage is present), as Roles Anywhere requires.
 */
export async function loadTrustAnchors(sources: TrustAnchorSource | readonly TrustAnchorSource[]): Promise<Certificate[]> {
  const list = Array.isArray(sources) ? (sources as readonly TrustAnchorSource[]) : [sources as TrustAnchorSource];
  const anchors: Certificate[] = [];
  for (const source of list) {
    const found = await read(source);
    if (found.certificates.length === 0) {
      throw new InputError("CERTIFICATE_MISSING", `trust anchors: ${found.where} holds no certificate`, {
        hint: "--trust-anchors must be a PEM bundle of CA certificates",
      });
    }
    for (const cert of found.certificates) {
      await checkAnchor(cert, found.where);
      anchors.push(cert);
    }
  }
  if (anchors.length === 0) throw new InputError("CERTIFICATE_MISSING", "no trust anchor was given", { hint: "pass at least one CA certificate" });
  return anchors;
}

async function read(source: TrustAnchorSource): Promise<{ certificates: Certificate[]; where: string }> {
  if (source instanceof Certificate) return { certificates: [source], where: "a certificate" };
  if (source.includes("-----BEGIN ")) return { certificates: parseCertificateBytes(Buffer.from(source, "latin1"), "PEM text"), where: "the PEM text" };
  const { bytes } = await readInputFile(source, "trust anchor file");
  return { certificates: parseCertificateBytes(bytes, source), where: source };
}

async function checkAnchor(cert: Certificate, where: string): Promise<void> {
  const facts = await certificateFacts(cert);
  const problem =
    facts.isCa !== true
      ? "is not a CA certificate (basicConstraints CA:TRUE missing)"
      : facts.keyUsage && !facts.keyUsage.has("keyCertSign")
        ? "may not sign certificates (keyUsage lacks keyCertSign)"
        : undefined;
  if (problem) {
    throw new InputError("CERTIFICATE_INVALID", `trust anchor ${describe(cert)} in ${where} ${problem}`, {
      hint: "a trust anchor must be the CA that issued the device certificates (or one above it)",
    });
  }
}
