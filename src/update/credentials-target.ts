import { constants, type Stats } from "node:fs";
import { lstat, open, stat } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { TargetIdentity } from "../io/atomic-write.js";
import { refuseUtf16 } from "../io/input-file.js";
import { MAX_INPUT_BYTES } from "../io/read-opened-file.js";
import { fileKind } from "../io/trusted-path.js";
import { namesUnmappedId, readAccessAcl, type AccessAcl } from "../os/access-acl.js";

/** The file's bytes, which file it was (the rename replaces only that one), its owner, mode, names and ACL (absent: none). */
export type CredentialsTarget = { bytes: Buffer; identity: TargetIdentity; uid?: number; mode?: number; links?: number; acl?: AccessAcl };

/**
 * Reads the credentials file that `update` is about to rewrite, refusing anything but a regular file (through
 * symlinks). A FIFO would block the read forever, a socket or a device node would be replaced by a regular file
 * when the new contents are renamed over it. The type is checked before opening (a device is never opened), and
 * again on the open descriptor (O_NONBLOCK, so a FIFO swapped in meanwhile cannot block; O_NOCTTY, so a
 * terminal cannot become ours): what is read is what was checked. A missing file reads as empty. With `shownAs`,
 * `path` was reached by a checked walk (links resolved): a symbolic link there now was swapped in since, and is
 * not followed (refused); messages show `shownAs`.
 */
export async function readCredentialsTarget(path: string, shownAs?: string): Promise<CredentialsTarget> {
  const noFollow = shownAs !== undefined;
  const shown = shownAs ?? path;
  const before = await (noFollow ? lstat : stat)(path).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === "ENOENT") return undefined;
    throw new InputError("FILE_UNREADABLE", `cannot read ${shown}: ${cause.code ?? "error"}`, { cause });
  });
  if (!before) return { bytes: Buffer.alloc(0), identity: "absent" };
  if (!before.isFile()) throw notRegular(shown, before);
  let handle;
  try {
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
    handle = await open(path, flags | (noFollow ? constants.O_NOFOLLOW : 0));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { bytes: Buffer.alloc(0), identity: "absent" };
    if (code === "ENXIO" || code === "ELOOP") throw notRegular(shown, code === "ELOOP" ? "a symbolic link" : undefined);
    throw new InputError("FILE_UNREADABLE", `cannot read ${shown}: ${code ?? "error"}`, { cause });
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw notRegular(shown, opened);
    if (opened.size > MAX_INPUT_BYTES) {
      // Read whole, it would take several times its size in memory (1 GiB: 2.1 GB, then a crash).
      const what = `${shown} is ${(opened.size / 2 ** 20).toFixed(1)} MiB, too large for a credentials file`;
      throw new InputError("FILE_UNREADABLE", `${what} (${MAX_INPUT_BYTES >> 20} MiB at most); it was left as it is`, {
        hint: "point --credentials-file (or AWS_SHARED_CREDENTIALS_FILE) at the right file, or shrink this one",
      });
    }
    const identity = { dev: opened.dev, ino: opened.ino, ctimeMs: opened.ctimeMs, uid: opened.uid, gid: opened.gid };
    const bytes = await handle.readFile();
    refuseUtf16(bytes, shown, "credentials file"); // the lines added would be single bytes among its UTF-16
    const read = readAccessAcl(handle.fd, shown); // of the file read, by its descriptor
    const unmapped = "bytes" in read && read.bytes && namesUnmappedId(read.bytes);
    const acl = unmapped ? { unknown: "it names a user or group this user namespace does not map" } : read;
    return { bytes, identity, uid: opened.uid, mode: opened.mode & 0o777, links: opened.nlink, acl };
  } finally {
    await handle.close();
  }
}

function notRegular(path: string, info: Stats | string | undefined): InputError {
  const kind = typeof info === "string" ? info : info ? fileKind(info) : "a socket or device";
  return new InputError("FILE_NOT_REGULAR", `${path} is not a regular file (it is ${kind}); it was left as it is`, {
    hint: "point --credentials-file (or AWS_SHARED_CREDENTIALS_FILE) at a regular file, or at a path that does not exist yet",
  });
}
