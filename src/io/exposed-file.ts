/**
 * A secret file (PIN, password, private key) that other users can read or change is warned about, not refused:
 * aws_signing_helper reads such files, and a key shared with a group on purpose (0640, group ssl-cert) is a
 * deliberate setup. One process warning naming the file and its mode, never the content.
 */
export function warnIfExposed(mode: number, path: string, what: string): void {
  if (!isExposed(mode)) return;
  const message = `${what} ${path} can be read or changed by other users (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`;
  process.emitWarning(message, { code: "RAA_EXPOSED_FILE" });
}

/** Whether users other than the owner may read or change a file of this mode. */
export function isExposed(mode: number): boolean {
  return (mode & 0o077) !== 0;
}
