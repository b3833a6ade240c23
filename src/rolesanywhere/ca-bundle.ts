import { X509Certificate } from "node:crypto";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { InputError } from "../errors.js";
import { fileError, isFileInput, readCheckedFile, readInputFile, refuseUtf16 } from "../io/input-file.js";
import { UntrustedPathError } from "../io/trusted-path.js";
import { MIN_TLS_VERSION } from "./connection.js";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A TLS context trusting Node's default CAs plus every certificate in a PEM bundle (`--ca-bundle` or
 * `AWS_CA_BUNDLE`). Built once per CreateSession call and shared by its attempts.
 */
export async function trustWithCaBundle(path: string, source: string): Promise<SecureContext> {
  const what = `CA bundle ${source === "--ca-bundle" ? "" : `(${source}) `}`.trim();
  const bytes = (isFileInput(path) && readTrusted(path, what)) || (await readInputFile(path, what)).bytes;
  const pems: string[] = bytes.toString("latin1").match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) {
    throw new InputError("PEM_INVALID", `${what} ${path} contains no PEM certificate`, {
      hint: "the bundle must hold -----BEGIN CERTIFICATE----- blocks (convert DER with: openssl x509 -inform DER -in ca.der -out ca.pem)",
    });
  }
  // Certificates Node already trusts are skipped: a bundle is often the distribution's whole CA list, and
  // parsing it a second time would cost tens of milliseconds on every credential_process call.
  const known = new Set(rootCertificates.map(pemBody));
  const extra = pems.filter((pem) => !known.has(pemBody(pem)));
  // OpenSSL stops silently at an unparsable block; say so instead of failing TLS later.
  extra.forEach((pem) => {
    try {
      new X509Certificate(pem);
    } catch (cause) {
      throw new InputError("PEM_INVALID", `${what} ${path}: certificate ${pems.indexOf(pem) + 1} of ${pems.length} cannot be parsed`, {
        hint: "check the PEM blocks in the bundle (openssl storeutl -certs FILE lists them)",
        cause,
      });
    }
  });
  return createSecureContext({ ca: [...rootCertificates, ...extra], minVersion: MIN_TLS_VERSION });
}

/**
 * A CA bundle decides who receives the signed request (replayable for minutes): whoever can change the file must
 * not be able to add a CA, so it is held to the config file's rule, and read from the descriptor the check opened
 * (the name may point elsewhere by then). A path the walk cannot reach (missing; a descriptor of this process's own,
 * /dev/fd/N) gives undefined: left to readInputFile, which reports it.
 */
function readTrusted(path: string, what: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readCheckedFile(path, what, process.getuid?.() ?? 0).bytes;
  } catch (cause) {
    if (cause instanceof UntrustedPathError) {
      throw new InputError("FILE_UNSAFE", `${what} ${path} was not used: ${cause.reason}`, {
        hint: "another user could add a CA and receive your signed request: make it and its directories yours (or root's) and writable only by the owner",
      });
    }
    if (cause instanceof InputError || (cause as NodeJS.ErrnoException).code === "EFBIG") throw fileError(cause, path, what);
    return undefined;
  }
  refuseUtf16(bytes, path, what);
  return bytes;
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, "");
}
