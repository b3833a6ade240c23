import type { Stats } from "node:fs";
import { join } from "node:path";
import { oneLine } from "../daemon/signals.js";
import { InputError } from "../errors.js";
import { readOpenedFile } from "../io/read-opened-file.js";
import { repeatWithoutOverlap } from "../daemon/repeat.js";
import { checkDirectoryRule, directoryErrorText, openCheckedDirectory, UntrustedPathError, walkToEntry, type CheckedDirectory, type CheckedEntry } from "../io/trusted-path.js";
import { ownedByOrRoot, ownerText } from "../user-namespace.js";
import { ecsConsumers, type EcsConsumer, type EcsConsumerLookup, type ReloadingConsumers } from "./ecs-consumers.js";

/** A token this short is guessable or a mistake (an empty Secret key, a placeholder). */
const MIN_TOKEN_LENGTH = 32;

/**
 * ECS consumers whose tokens are files, `DIR/NAME` for consumer NAME: the keys of a Kubernetes Secret volume
 * that the consumer's pod mounts too (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). Re-read every `intervalMs`, so
 * a rotated token is honoured without a restart; a set that cannot be read is logged and the previous one kept.
 * A file anyone but its owner (root or this user) can write is refused: another user could set a token they know.
 */
export async function openEcsTokenFiles(
  dir: string,
  bindings: readonly { name: string; role: string }[],
  log: (line: string) => void,
  intervalMs = 5_000,
): Promise<ReloadingConsumers> {
  let current = await readTokens(dir, bindings);
  let lastError: string | undefined;
  const reload = async () => {
    try {
      const next = await readTokens(dir, bindings);
      const changed = next.all().some((c, i) => c.token !== current.all()[i]!.token);
      current = next;
      lastError = undefined;
      if (changed) log(`ECS consumer tokens reloaded from ${dir}`);
    } catch (error) {
      const line = oneLine(error);
      if (line !== lastError) log(`ECS consumer tokens not reloaded, the previous ones are kept: ${line}`);
      lastError = line;
    }
  };
  const stop = repeatWithoutOverlap(reload, intervalMs);
  return { find: (token) => current.find(token), all: () => current.all(), reload, stop };
}

/**
 * The directory passes the trusted-path rule (src/io/trusted-path.ts; sticky is fine: others' files are refused), and
 * each file is reached by the same walk: whoever could put a link there could point it at a root-owned file whose
 * content they know.
 */
async function readTokens(dir: string, bindings: readonly { name: string; role: string }[]): Promise<EcsConsumerLookup> {
  const uid = process.getuid?.() ?? 0;
  openTokenDir(dir, uid).close();
  const consumers: EcsConsumer[] = [];
  for (const b of bindings) consumers.push({ ...b, token: await readToken(dir, b.name, uid) });
  return ecsConsumers(consumers);
}

function openTokenDir(dir: string, uid: number): CheckedDirectory {
  let checked: CheckedDirectory | undefined;
  try {
    checked = openCheckedDirectory(dir, { uid });
    checkDirectoryRule(checked, uid);
    return checked;
  } catch (cause) {
    checked?.close();
    const code = (cause as NodeJS.ErrnoException).code;
    const unsafe = cause instanceof UntrustedPathError;
    const reason = unsafe ? `was not used: ${cause.reason}` : directoryErrorText(cause);
    const errorCode = unsafe ? "FILE_UNSAFE" : code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE";
    throw new InputError(errorCode, `--ecs-token-dir ${dir} ${reason}`, {
      hint: "use a directory of root or yours that no one else can write (a Secret volume), a token file per consumer",
      cause,
    });
  }
}

async function readToken(dir: string, name: string, uid: number): Promise<string> {
  const path = join(dir, name);
  const unreadable = (cause: NodeJS.ErrnoException) => {
    if (cause instanceof UntrustedPathError) return new InputError("FILE_UNSAFE", `token file ${path} of ECS consumer ${name} was not used: ${cause.reason}`);
    const code = cause.code;
    return new InputError(code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE", `token file ${path} of ECS consumer ${name} cannot be read: ${code ?? String(cause)}`, {
      hint: "--ecs-token-dir must hold one file per consumer, named after it (a Secret key per consumer)",
      cause,
    });
  };
  // Links are followed only when root's or this user's (the kubelet's): another user can add one to a sticky directory.
  let entry: CheckedEntry;
  try {
    entry = walkToEntry(`${dir}/${name}`, { uid }); // not join(): '..' after a link is taken as the kernel does
  } catch (cause) {
    throw unreadable(cause as NodeJS.ErrnoException);
  }
  // Root's as the walk's (rootsOwner): in a user namespace root's Secret volume shows as 65534, in a sticky directory so does another user's.
  const refused = (stats: Stats) => !stats.isFile() || (stats.mode & 0o022) !== 0 || !ownedByOrRoot(stats.uid, uid, entry.directory.rule);
  const unsafe = (stats: Stats) =>
    new InputError("FILE_UNSAFE", `token file ${path} of ECS consumer ${name} was not used: it must be a regular file of root or uid ${uid} that no one else can write (it is ${ownerText(stats.uid)}, mode ${(stats.mode & 0o777).toString(8)})`);
  // Not even opened when it fails: another user's FIFO would be read for 30 s.
  if (entry.stats && refused(entry.stats)) {
    entry.directory.close();
    throw unsafe(entry.stats);
  }
  const { bytes, stats } = await readOpenedFile(entry.directory.entry(entry.name)).catch((cause: NodeJS.ErrnoException) => {
    throw unreadable(cause);
  }).finally(() => entry.directory.close());
  // Replaced since the walk (by a link, say): what was read is not what was checked.
  if (stats.ino !== entry.stats?.ino || stats.dev !== entry.stats.dev || refused(stats)) throw unsafe(stats);
  // The SDKs send the file's content as the header, byte for byte: a final newline makes them fail
  // ("Invalid character in header content"), so it is refused here, where the message can say why.
  const token = bytes.toString("utf8");
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new InputError("FILE_UNSAFE", `token file ${path} of ECS consumer ${name} does not hold a token: use at least ${MIN_TOKEN_LENGTH} printable characters, without spaces or a final newline`, {
      hint: 'SDKs send the file as it is: kubectl create secret generic … --from-literal=NAME="$(openssl rand -base64 32)"',
    });
  }
  return token;
}
