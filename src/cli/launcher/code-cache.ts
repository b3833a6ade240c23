// The user's V8 code caches of the CLI bundles, loaded by the launcher (run-bundle.ts) only when the shipped cache
// does not fit: V8 accepts a cache only for the same source length, V8 version and V8 flags (bundle-files.ts).
//
// Three places hold a cache:
// - dist/<bundle>.cache, made by the build after a real credential-process run (so that the functions compiled
//   lazily on that path are in it), for the Node that built the package and no V8 flags;
// - dist/<bundle>.<build id>.<Node version>-<arch>.cache, for another Node and no V8 flags, written after the first
//   successful run under that Node, and read, only when the package's directory belongs to the user running it
//   (an npm prefix of the user's own, nvm), without the walk below (run-bundle.ts: readRuntimeCodeCache says why);
// - the user's cache directory ($XDG_CACHE_HOME or ~/.cache, then roles-anywhere-agent/code-cache/), one file
//   per bundle, build, Node binary and set of V8 flags, written after the first successful run that had no usable
//   cache (a package installed under another Node, NODE_OPTIONS=--max-old-space-size=…). The file is code that runs
//   in this process: it is trusted only when it and every directory above it belong to the user (or root) and
//   nobody else can write them (src/io/trusted-path.ts), and only for the exact bundle it was made from.
// Each file ends with a checksum of the rest, and one that does not match is no cache (read-cache-data.ts).
import { closeSync, lstatSync, readdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { checkDirectoryRule, openCheckedDirectory, openCheckedFile } from "../../io/trusted-path.js";
import { writeThenRename } from "../../io/write-new-file.js";
import { readCacheData, withChecksum } from "./read-cache-data.js";

const MAGIC = "raa-code-cache-1";

/** Where the user's cache for this Node binary and these V8 flags lives, or undefined (no home directory). */
export interface UserCodeCache {
  readonly directory: string;
  readonly file: string;
  /** Names the bundle the data was made from: the build's id and the file's size, mtime and inode. */
  readonly bundleKey: string;
  /** When the bundle was installed (its ctime): caches of other builds written before it are stale. */
  readonly installedMs: number;
}

/**
 * The user cache slot for `bundlePath` under this Node: one file per bundle (by its path: two installations of the
 * package are two bundles), Node binary, version, architecture and V8 flags (a different set of flags makes V8
 * reject the data, so each set keeps its own instead of taking turns overwriting one file).
 */
export function userCodeCache(bundlePath: string, buildId: string, env: NodeJS.ProcessEnv): UserCodeCache | undefined {
  const base = env["XDG_CACHE_HOME"]?.startsWith("/") ? env["XDG_CACHE_HOME"] : env["HOME"]?.startsWith("/") ? join(env["HOME"], ".cache") : undefined;
  if (base === undefined || typeof process.geteuid !== "function") return undefined;
  let stamp: string;
  let installedMs: number;
  try {
    const s = statSync(bundlePath);
    stamp = `${s.size}-${s.mtimeMs}-${s.ino}`;
    installedMs = s.ctimeMs;
  } catch {
    return undefined;
  }
  const runtime = `${process.execPath}\0${process.execArgv.join("\0")}\0${env["NODE_OPTIONS"] ?? ""}`;
  const directory = join(base, "roles-anywhere-agent", "code-cache");
  const bundleKey = `${buildId}-${stamp}`;
  // The bundle, then its build: writeUserCodeCache removes the bundle's caches of other builds by these names.
  const name = `${fnv1a(bundlePath)}-${fnv1a(bundleKey)}-${process.version}-${process.arch}-${fnv1a(runtime)}.cache`;
  return { directory, file: join(directory, name), bundleKey, installedMs };
}

/** The V8 data of the user's cache for this bundle, or undefined (none, another bundle's, or not trusted). */
export function readUserCodeCache(cache: UserCodeCache): Buffer | undefined {
  let fd: number | undefined;
  try {
    const opened = openCheckedFile(cache.file, "code cache", process.geteuid!());
    fd = opened.fd;
    const data = readCacheData(fd, opened.stats.size);
    const header = `${MAGIC} ${cache.bundleKey}\n`;
    if (!data || data.toString("latin1", 0, header.length) !== header) return undefined;
    return data.subarray(header.length);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes the user's cache (best effort: a cache that cannot be written only costs start-up time), in directories
 * created 0700 and checked like the ones read; under a temporary name, then renamed, so that a concurrent run never
 * reads half a file. Then removes the same bundle's caches of other builds (an upgrade's), which no run reads
 * again: names in that directory only, unlinked (a link itself, never its target).
 */
export function writeUserCodeCache(cache: UserCodeCache, data: Buffer): void {
  const uid = process.geteuid!();
  let dir;
  try {
    // The cache directory may be made, not the home above it (HOME=/nonexistent for service users).
    if (!statSync(dirname(dirname(dirname(cache.directory)))).isDirectory()) return;
    dir = openCheckedDirectory(cache.directory, { uid, createMode: 0o700 });
  } catch {
    return;
  }
  const name = cache.file.slice(cache.directory.length + 1);
  try {
    checkDirectoryRule(dir, uid);
    if ((dir.stats.mode & 0o022) !== 0) return;
    const header = Buffer.from(`${MAGIC} ${cache.bundleKey}\n`, "latin1");
    const sealed = withChecksum(Buffer.concat([header, data]));
    writeThenRename(dir.entry(`.${name}.${process.pid}.tmp`), dir.entry(name), 0o600, [sealed], { uid });
    const [bundle, build] = name.split("-");
    for (const old of readdirSync(dir.entry("."))) {
      const stale = old.startsWith(`${bundle}-`) && !old.startsWith(`${bundle}-${build}-`) && old.endsWith(".cache");
      // Only those written before this bundle was installed: a later one is another host's (a shared home), in use.
      const written = stale ? lstatSync(dir.entry(old), { throwIfNoEntry: false })?.mtimeMs : undefined;
      if (written !== undefined && written < cache.installedMs) rmSync(dir.entry(old), { force: true });
    }
  } catch {
    // Not trusted: nothing was written.
  } finally {
    dir.close();
  }
}

/** `<bundle>.<build id>.<Node version>-<arch>.cache` (bundle-files.ts: runtimeCodeCacheFile), as written below. */
const RUNTIME_CACHE_NAME = /^(.+)\.([0-9a-f]{16})\.v\d+\.\d+\.\d+-[a-z0-9]+\.cache$/;

/**
 * Writes this Node's cache next to the bundle (`path`: run-bundle.ts reads it), as trusted as the bundle there and
 * 0644 like it; false when not written (another user's or a read-only directory): the caller writes the user's.
 * Then removes the same bundle's caches of other builds (left by an upgrade; no run reads them again), keeping this
 * build's for other Nodes (several may share the installation): regular files of that directory by that name only,
 * unlinked (never followed).
 */
export function writeRuntimeCodeCache(path: string, data: Buffer): boolean {
  const directory = dirname(path);
  try {
    const stats = statSync(directory);
    if (stats.uid !== process.geteuid!() || (stats.mode & 0o022) !== 0) return false;
    writeThenRename(join(directory, `.${basename(path)}.${process.pid}.tmp`), path, 0o644, [withChecksum(data)]);
  } catch {
    return false;
  }
  const [, bundle, build] = RUNTIME_CACHE_NAME.exec(basename(path)) ?? [];
  try {
    for (const old of bundle === undefined ? [] : readdirSync(directory)) {
      const [, oldBundle, oldBuild] = RUNTIME_CACHE_NAME.exec(old) ?? [];
      const file = join(directory, old);
      const stale = oldBundle === bundle && oldBuild !== build;
      if (stale && lstatSync(file, { throwIfNoEntry: false })?.isFile()) unlinkSync(file);
    }
  } catch {
    // Best effort: a stale cache left only takes room.
  }
  return true;
}

/** FNV-1a, 32 bits, as 8 hex digits: names a cache file (not a security check: ownership is). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
