/** What to do about a failed write to the credentials file, its lock or its temporary file, by errno. */
export function writeFailureHint(code: string | undefined): string | undefined {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "check the owner and permissions of the file and its directory, and the immutable flag (lsattr); the file was left as it was";
    case "EROFS":
      return "the file system is mounted read-only; the file was left as it was";
    case "ENOSPC":
    case "EDQUOT":
      return "the disk is full (or over quota): free some space; the file was left as it was";
    default:
      return undefined;
  }
}
