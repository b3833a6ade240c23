import { cutAt, MAX_ERROR_TEXT, printableLine } from "../../errors.js";
import { formatPkcs11Uri, type UnreadableCertificate } from "../../signers/pkcs11/index.js";
import type { CliIo } from "../command.js";
import { PROGRAM } from "../report-error.js";

/** A token of thousands of broken objects must not turn the warning into a page: the first few, then a count. */
const MAX_SKIPPED_LINES = 5;

/**
 * `skipped` for listPkcs11Certificates, and `tell`, which writes each certificate object left out on stderr: the
 * operator must learn why theirs is not listed (read-certificate-data, principal-tags).
 */
export function skippedCertificates(stderr: CliIo["stderr"]): { skipped: (object: UnreadableCertificate) => void; tell: () => void } {
  const lines: string[] = [];
  const skipped = ({ uri, reason, hint }: UnreadableCertificate) =>
    void lines.push(`the certificate object ${formatPkcs11Uri(uri)} is not listed: ${reason}; ${hint}`);
  const tell = () => {
    for (const line of lines.sort().slice(0, MAX_SKIPPED_LINES)) {
      stderr.write(`${PROGRAM}: warning: ${printableLine(cutAt(line, MAX_ERROR_TEXT))}\n`);
    }
    const more = lines.length - MAX_SKIPPED_LINES;
    const others = more === 1 ? "1 more certificate object is" : `${more} more certificate objects are`;
    if (more > 0) stderr.write(`${PROGRAM}: warning: ${others} not listed either (--debug names each)\n`);
  };
  return { skipped, tell };
}
