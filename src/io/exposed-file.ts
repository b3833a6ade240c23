/**
 * A file holding a secret (a PIN or password file, a private key file) that other users can read or change.
 * Warned about, not refused: aws_signing_helper reads such files, and a key shared with a group on purpose
 * (e.g. 0640 under /etc/ssl/private, group ssl-cert) is a deliberate setup. One warning line through Node's
 * process warnings (the CLI prints it as `roles-anywhere-agent: warning: …`); it names the file and its
 * mode, never the content.
 */
export function warnIfExposed(mode: number, path: string, what: string): void {
  if (!isExposed(mode)) return;
  process.emitWarning(`${what} ${path} can be read or changed by other users (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`, {
    code: EXPOSED_FILE_WARNING,
  });
}

export const EXPOSED_FILE_WARNING = "RAA_EXPOSED_FILE";

/** Whether users other than the owner may read or change a file of this mode. */
export function isExposed(mode: number): boolean {
  return (mode & 0o077) !== 0;
}
