import { basename, dirname, extname, join } from "node:path";
import type { KeyObject } from "node:crypto";
import { oneLineName, type Certificate } from "../x509/certificate.js";
import { InputError } from "../errors.js";
import { writeOutputFile } from "./output-file.js";
import { encodePem } from "../encoding/pem.js";

const KEY_EXTENSIONS = new Set([".pem", ".tss2", ".tpm", ".key", ".der", ".priv"]);

/** `device.tss2` → `device.cert.pem`, in the key's directory. */
export function certificatePathBeside(keyPath: string): string {
  const ext = extname(keyPath);
  const stem = KEY_EXTENSIONS.has(ext.toLowerCase()) ? basename(keyPath, ext) : basename(keyPath);
  return join(dirname(keyPath), `${stem}.cert.pem`);
}

export interface IssuedCertificate {
  readonly certificate: Certificate;
  /** CA certificates to store too (the signer sends them as X-Amz-X509-Chain). */
  readonly chain: readonly Certificate[];
  /** Replace a certificate already stored for the key. */
  readonly replace: boolean;
}

export interface FileInstallRequest extends IssuedCertificate {
  readonly path: string;
  readonly keyName: string;
  readonly publicKey: KeyObject | undefined;
}

/** One PEM file, the certificate then its chain: the layout `--certificate` reads. */
export async function writeCertificateFile(request: FileInstallRequest): Promise<void> {
  requireSameKey(request.publicKey, request.certificate, request.keyName);
  const pem = [request.certificate, ...request.chain].map((c) => encodePem("CERTIFICATE", c.der)).join("");
  await writeOutputFile(request.path, pem, { what: "certificate file", overwrite: request.replace });
}

/** The certificate must certify this very key: comparing the public keys needs neither PIN nor signature. */
export function requireSameKey(publicKey: KeyObject | undefined, certificate: Certificate, keyName: string): void {
  const certKey = certificate.publicKey;
  if (publicKey === undefined || certKey === undefined) {
    throw new InputError("KEY_CERTIFICATE_MISMATCH", `cannot compare the certificate with the public key of ${keyName}`, {
      hint: "the key has no readable public key (keygen creates one); check the certificate with sign-string instead",
    });
  }
  if (!publicKey.equals(certKey)) {
    const subject = oneLineName(certificate.subject);
    throw new InputError("KEY_CERTIFICATE_MISMATCH", `the certificate "${subject}" is not for the key ${keyName}`, {
      hint: "install the certificate issued for this key's CSR",
    });
  }
}
