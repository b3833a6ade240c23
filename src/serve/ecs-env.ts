import { randomBytes } from "node:crypto";
import { lstatSync } from "node:fs";
import { InputError } from "../errors.js";
import { checkNotWritable, checkOwner, directoryErrorText, openCheckedDirectory, UntrustedPathError, type CheckedDirectory } from "../io/trusted-path.js";
import { writeError } from "../io/atomic-write.js";
import { writeThenRename } from "../io/write-new-file.js";
import { holdFileLock } from "../io/file-lock.js";
import type { EcsConsumer } from "./ecs-consumers.js";

/** The environment a consumer needs: systemd `EnvironmentFile=` / `docker --env-file` / `set -a; . file` syntax. */
export function ecsEnvFile(consumer: EcsConsumer, fullUri: string): string {
  return `AWS_CONTAINER_CREDENTIALS_FULL_URI=${fullUri}\nAWS_CONTAINER_AUTHORIZATION_TOKEN=${consumer.token}\n`;
}

/**
 * Writes `<dir>/<consumer>.env` (FULL_URI + token) and `<dir>/<consumer>.token` (for
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), both 0600, and returns the env paths. Whoever can change these files
 * redirects the consumers and learns the tokens, so the directory passes the trusted-path rule
 * (src/io/trusted-path.ts), is writable by nobody else (sticky or not), and files are written through it with {@link writeThenRename}.
 */
export async function writeEcsEnvFiles(dir: string, consumers: readonly EcsConsumer[], fullUri: string, uid: number = process.getuid?.() ?? 0): Promise<string[]> {
  const checked = openEcsEnvDir(dir, uid);
  try {
    const written: string[] = [];
    for (const consumer of consumers) {
      writeInto(checked, `${consumer.name}.token`, consumer.token, uid);
      writeInto(checked, `${consumer.name}.env`, ecsEnvFile(consumer, fullUri), uid);
      written.push(`${checked.path}/${consumer.name}.env`);
    }
    return written;
  } finally {
    checked.close();
  }
}

/**
 * Makes `dir` this serve's for its life (the returned function gives it back): a second serve writing there would
 * replace the first one's files, leaving its consumers with another's URL or token. A lock left by a serve that
 * died is taken over (src/io/file-lock.ts); a live one's never.
 */
export async function lockEcsEnvDir(dir: string, uid: number = process.getuid?.() ?? 0): Promise<() => Promise<void>> {
  const checked = openEcsEnvDir(dir, uid);
  const path = checked.path;
  checked.close();
  return holdFileLock(`${path}/.serve.lock`, {
    timeoutMs: 1_000,
    busy: (lock, pid) => ({
      message: `--ecs-env-dir ${path} is in use by serve process ${pid} (lock ${lock}): `
        + "its consumers read their files there",
      hint: "stop that serve, or give this one another --ecs-env-dir",
    }),
  });
}

function openEcsEnvDir(dir: string, uid: number): CheckedDirectory {
  let checked: CheckedDirectory | undefined;
  try {
    checked = openCheckedDirectory(dir, { uid, createMode: 0o700 });
    // Not even sticky (/tmp): another user could plant the names written here before serve (what consumers read).
    checkOwner(checked.stats, `directory ${checked.path}`, uid, checked.within);
    checkNotWritable(checked.stats, `directory ${checked.path}`);
    return checked;
  } catch (cause) {
    checked?.close();
    if (cause instanceof UntrustedPathError) throw unsafe(dir, cause.reason);
    throw new InputError("FILE_WRITE_FAILED", `--ecs-env-dir ${dir} ${directoryErrorText(cause)}`, { cause });
  }
}

function writeInto(dir: CheckedDirectory, name: string, data: string, uid: number): void {
  const target = dir.entry(name);
  const existing = lstatSync(target, { throwIfNoEntry: false });
  if (existing && existing.uid !== uid) {
    throw unsafe(dir.path, `${dir.path}/${name} exists and belongs to uid ${existing.uid}; it was left alone`);
  }
  try {
    const tmp = dir.entry(`.${name}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    writeThenRename(tmp, target, 0o600, [Buffer.from(data)], { sync: true });
  } catch (cause) {
    throw writeError(`cannot write ${dir.path}/${name}`, cause as NodeJS.ErrnoException);
  }
}

function unsafe(dir: string, reason: string): InputError {
  return new InputError("FILE_UNSAFE", `--ecs-env-dir ${dir} was not used: ${reason}`, {
    hint: "another user could read the tokens or redirect the consumers: use a directory of yours that only you can write, "
      + "such as $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=)",
  });
}
