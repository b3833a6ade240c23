import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, utimesSync, lutimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readUserCodeCache, userCodeCache, writeRuntimeCodeCache, writeUserCodeCache, type UserCodeCache } from "../../src/cli/launcher/code-cache.js";
import { runtimeCodeCacheFile } from "../../src/cli/launcher/bundle-files.js";
import { readRuntimeCodeCache } from "../../src/cli/launcher/run-bundle.js";
import { CACHE_CHECKSUM_BYTES, CHECKSUM_WASM, readCacheData, withChecksum } from "../../src/cli/launcher/read-cache-data.js";
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readdirSync, truncateSync } from "node:fs";

describe("the user's V8 code cache (launcher)", () => {
  let dir: string;
  let bundle: string;
  let cache: UserCodeCache;
  const data = Buffer.from("v8 code cache bytes");

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "raa-code-cache-"));
    chmodSync(dir, 0o700);
    bundle = join(dir, "cli-bundle.cjs");
    writeFileSync(bundle, "module.exports = 1;\n");
    cache = userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") })!;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("lives in $XDG_CACHE_HOME, one file per Node binary and V8 flag set", () => {
    expect(cache.directory).toBe(join(dir, "cache", "roles-anywhere-agent", "code-cache"));
    // The bundle's path, its build, then the runtime: ${bundle}-${build}-${version}-${arch}-${binary and flags}.
    const name = cache.file.slice(cache.directory.length + 1);
    expect(name).toMatch(
      new RegExp(`^[0-9a-f]{8}-[0-9a-f]{8}-${process.version}-${process.arch}-[0-9a-f]{8}\\.cache$`),
    );
    const flagged = userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), NODE_OPTIONS: "--max-old-space-size=4096" })!;
    expect(flagged.file).not.toBe(cache.file);
    expect(userCodeCache(bundle, "build-1", { HOME: dir })!.directory).toBe(join(dir, ".cache", "roles-anywhere-agent", "code-cache"));
    expect(userCodeCache(bundle, "build-1", {})).toBeUndefined();
    expect(userCodeCache(bundle, "build-1", { HOME: "relative" })).toBeUndefined();
    // A relative XDG_CACHE_HOME is ignored (the XDG rule), not taken from the working directory.
    expect(userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: "cache" })!.directory).toBe(join(dir, ".cache", "roles-anywhere-agent", "code-cache"));
  });

  it("has none for a bundle that cannot be found (removed by an upgrade meanwhile)", () => {
    expect(userCodeCache(join(dir, "no-such-bundle.cjs"), "build-1", { HOME: dir })).toBeUndefined();
  });

  it("keeps one file per installation: two copies of the package used in turns do not overwrite each other's cache", () => {
    // Each would find the other's data (another bundle key), compile without a cache and write its own: every run.
    const other = join(dir, "other-install");
    mkdirSync(other);
    writeFileSync(join(other, "cli-bundle.cjs"), "module.exports = 1;\n");
    const otherCache = userCodeCache(join(other, "cli-bundle.cjs"), "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") })!;
    expect(otherCache.file).not.toBe(cache.file);
    expect(userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") })!.file).toBe(cache.file);
  });

  it("removes the same bundle's caches made by other builds when it writes one, and nothing else", () => {
    // Before: each upgrade under another Node (or at another runtime) left its file behind for good.
    const env = { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") };
    const oldBuild = userCodeCache(bundle, "build-0", env)!;
    const oldBuildOtherNode = oldBuild.file.replace(`-${process.version}-`, "-v18.0.0-");
    const flagged = userCodeCache(bundle, "build-1", { ...env, NODE_OPTIONS: "--max-old-space-size=4096" })!;
    const otherBundle = join(dir, "other-install.cjs");
    writeFileSync(otherBundle, "module.exports = 1;\n");
    const otherInstall = userCodeCache(otherBundle, "build-0", env)!;
    for (const old of [oldBuild, flagged, otherInstall]) writeUserCodeCache(old, data);
    writeFileSync(oldBuildOtherNode, "stale");
    const victim = join(dir, "victim");
    writeFileSync(victim, "keep me");
    // In the file name only: mkdtemp's random suffix may start with "v" too.
    const plantedLink = join(cache.directory, basename(oldBuild.file).replace(`-${process.version}-`, "-w1.0.0-"));
    symlinkSync(victim, plantedLink);
    writeFileSync(join(cache.directory, "notes.txt"), "not a cache");
    // Written before this bundle was installed (the upgrade); so are those kept, which the names alone must keep.
    const before = new Date(Date.now() - 3_600_000);
    for (const old of [oldBuild.file, oldBuildOtherNode, flagged.file, otherInstall.file, join(cache.directory, "notes.txt")]) utimesSync(old, before, before);
    lutimesSync(plantedLink, before, before);

    writeUserCodeCache(cache, data);
    expect(readUserCodeCache(cache)).toEqual(data);
    for (const gone of [oldBuild.file, oldBuildOtherNode, plantedLink]) expect(existsSync(gone), gone).toBe(false);
    expect(lstatSync(plantedLink, { throwIfNoEntry: false })).toBeUndefined();
    expect(readFileSync(victim, "utf8")).toBe("keep me");
    // The same build under other V8 flags, another installation's, and what is not a cache: kept.
    expect(readUserCodeCache(flagged)).toEqual(data);
    expect(readUserCodeCache(otherInstall)).toEqual(data);
    expect(existsSync(join(cache.directory, "notes.txt"))).toBe(true);
  });

  it("keeps another host's cache of the same bundle path (a home shared over NFS or with containers)", () => {
    // Before: each host's bundle is another inode (another build name), so each run removed the other's, in use.
    const env = { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") };
    const host = join(dir, "host-b");
    mkdirSync(host);
    writeFileSync(join(host, "cli-bundle.cjs"), "module.exports = 1;\n");
    const hostB = userCodeCache(join(host, "cli-bundle.cjs"), "build-1", env)!;
    const hostBFile = join(cache.directory, `${basename(cache.file).split("-")[0]}-${basename(hostB.file).slice(9)}`);
    writeUserCodeCache({ ...hostB, file: hostBFile }, data);
    writeUserCodeCache(cache, data);
    expect(readUserCodeCache({ ...hostB, file: hostBFile })).toEqual(data);
    expect(readUserCodeCache(cache)).toEqual(data);
  });

  it("is written 0600 in 0700 directories and read back for the same bundle only", () => {
    writeUserCodeCache(cache, data);
    expect(statSync(cache.file).mode & 0o777).toBe(0o600);
    expect(statSync(cache.directory).mode & 0o777).toBe(0o700);
    expect(readUserCodeCache(cache)).toEqual(data);
    // Another build, or the same bundle file rewritten (new mtime/size): not used.
    expect(readUserCodeCache({ ...cache, bundleKey: cache.bundleKey.replace("build-1", "build-2") })).toBeUndefined();
    writeFileSync(bundle, "module.exports = 22;\n");
    expect(readUserCodeCache(userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") })!)).toBeUndefined();
  });

  it("is not used when others can write it or its directory, or when another user owns it", () => {
    writeUserCodeCache(cache, data);
    chmodSync(cache.file, 0o620);
    expect(readUserCodeCache(cache)).toBeUndefined();
    chmodSync(cache.file, 0o600);
    chmodSync(cache.directory, 0o777);
    expect(readUserCodeCache(cache)).toBeUndefined();
    chmodSync(cache.directory, 0o700);
    expect(readUserCodeCache(cache)).toEqual(data);
    if (process.getuid?.() === 0) {
      chownSync(cache.file, 4242, 4242);
      expect(readUserCodeCache(cache)).toBeUndefined();
    }
  });

  it("closes what it opened: no descriptor left per read, found, of another build, or missing", () => {
    writeUserCodeCache(cache, data);
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 20; i++) {
      readUserCodeCache(cache);
      readUserCodeCache({ ...cache, bundleKey: "another" });
      readUserCodeCache({ ...cache, file: `${cache.file}.missing` });
    }
    expect(open()).toBe(before);
  });

  it("makes no home directory: with HOME or XDG_CACHE_HOME's parent missing, nothing is written", () => {
    const homeless = userCodeCache(bundle, "build-1", { HOME: join(dir, "no-such-home") })!;
    writeUserCodeCache(homeless, data);
    expect(existsSync(join(dir, "no-such-home"))).toBe(false);
    const xdg = userCodeCache(bundle, "build-1", { XDG_CACHE_HOME: join(dir, "missing", "cache") })!;
    writeUserCodeCache(xdg, data);
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });

  it("writes nothing into a directory others can write, and replaces a planted symbolic link instead of following it", () => {
    mkdirSync(join(dir, "cache", "roles-anywhere-agent", "code-cache"), { recursive: true, mode: 0o700 });
    const victim = join(dir, "victim");
    writeFileSync(victim, "keep me");
    symlinkSync(victim, cache.file);
    writeUserCodeCache(cache, data);
    expect(readFileSync(victim, "utf8")).toBe("keep me");
    expect(lstatSync(cache.file).isSymbolicLink()).toBe(false);
    rmSync(cache.file);
    chmodSync(cache.directory, 0o777);
    writeUserCodeCache(cache, data);
    expect(existsSync(cache.file)).toBe(false);
    // Sticky, as /tmp: others may still add files (the reader refuses it), so nothing is written there either.
    chmodSync(cache.directory, 0o1777);
    writeUserCodeCache(cache, data);
    expect(existsSync(cache.file)).toBe(false);
    if (process.geteuid?.() === 0) {
      // Root writes no cache into another user's directory (it would be root's file there, trusted by root's runs).
      chmodSync(cache.directory, 0o700);
      chownSync(cache.directory, 4242, 4242);
      writeUserCodeCache(cache, data);
      expect(existsSync(cache.file)).toBe(false);
    }
  });
});

describe("the code cache for another Node next to the bundle (launcher)", () => {
  let dir: string;
  let file: string;
  const uid = process.geteuid!();
  const data = Buffer.from("v8 code cache bytes");

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "raa-runtime-cache-"));
    chmodSync(dir, 0o755);
    file = join(dir, runtimeCodeCacheFile("agent-fast-path.cjs", "0123456789abcdef", "v22.0.0-x64"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is named by the bundle, the build's id of it and the Node version, and read back as written", () => {
    expect(file).toBe(join(dir, "agent-fast-path.cjs.0123456789abcdef.v22.0.0-x64.cache"));
    expect(readRuntimeCodeCache(file, uid)).toBeUndefined();
    expect(writeRuntimeCodeCache(file, data)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o644); // whatever the umask
    expect(readRuntimeCodeCache(file, uid)).toEqual(data);
  });

  it("is not written where the directory is gone, or the file cannot be made (a directory at its name)", () => {
    expect(writeRuntimeCodeCache(join(dir, "gone", basename(file)), data)).toBe(false);
    mkdirSync(file);
    expect(writeRuntimeCodeCache(file, data)).toBe(false);
    expect(statSync(file).isDirectory()).toBe(true);
  });

  it("is written only into a directory of this user's that nobody else can write", () => {
    chmodSync(dir, 0o775);
    expect(writeRuntimeCodeCache(file, data)).toBe(false);
    expect(existsSync(file)).toBe(false);
    chmodSync(dir, 0o755);
    if (uid === 0) {
      chownSync(dir, 4242, 4242);
      expect(writeRuntimeCodeCache(file, data)).toBe(false);
      expect(existsSync(file)).toBe(false);
    }
  });

  it("is not read when others can write it, another user owns it, or it is a symbolic link or not a file", () => {
    writeRuntimeCodeCache(file, data);
    chmodSync(file, 0o664);
    expect(readRuntimeCodeCache(file, uid)).toBeUndefined();
    chmodSync(file, 0o644);
    expect(readRuntimeCodeCache(file, uid)).toEqual(data);
    if (uid === 0) {
      chownSync(file, 4242, 4242);
      expect(readRuntimeCodeCache(file, 0)).toBeUndefined();
      // The reading user's own (not root's): trusted (round 33: a mutant that trusted root's files only survived).
      expect(readRuntimeCodeCache(file, 4242)).toEqual(data);
      // root's own, in a directory of another user's (which run-bundle.ts reads only as that user): trusted.
      chownSync(file, 0, 0);
      expect(readRuntimeCodeCache(file, 4242)).toEqual(data);
    }
    const link = join(dir, "link.cache");
    symlinkSync(file, link);
    expect(readRuntimeCodeCache(link, uid)).toBeUndefined();
    mkdirSync(join(dir, "directory.cache"));
    expect(readRuntimeCodeCache(join(dir, "directory.cache"), uid)).toBeUndefined();
  });

  it("closes what it opened: no descriptor left per read, refused or missing", () => {
    writeRuntimeCodeCache(file, data);
    const writable = join(dir, "writable.cache");
    writeFileSync(writable, readFileSync(file), { mode: 0o664 });
    chmodSync(writable, 0o664);
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 20; i++) {
      expect(readRuntimeCodeCache(file, uid)).toEqual(data);
      expect(readRuntimeCodeCache(writable, uid)).toBeUndefined();
      expect(readRuntimeCodeCache(`${file}.missing`, uid)).toBeUndefined();
    }
    expect(open()).toBe(before);
  });

  it("replaces a planted symbolic link instead of writing through it", () => {
    const victim = join(dir, "victim");
    writeFileSync(victim, "keep me");
    symlinkSync(victim, file);
    expect(writeRuntimeCodeCache(file, data)).toBe(true);
    expect(readFileSync(victim, "utf8")).toBe("keep me");
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readRuntimeCodeCache(file, uid)).toEqual(data);
  });

  it("removes the bundle's caches of other builds when writing, keeping this build's for other Nodes", () => {
    // Before: each upgrade of the package under another Node left its cache next to the bundle for ever.
    const named = (bundle: string, id: string, runtime: string) => join(dir, runtimeCodeCacheFile(bundle, id, runtime));
    const oldBuild = named("agent-fast-path.cjs", "fedcba9876543210", "v22.0.0-x64");
    const oldBuildOtherNode = named("agent-fast-path.cjs", "fedcba9876543210", "v20.11.1-arm64");
    const kept = [
      named("agent-fast-path.cjs", "0123456789abcdef", "v20.11.1-x64"), // this build, another Node
      named("cli-bundle.cjs", "fedcba9876543210", "v22.0.0-x64"), // another bundle
      join(dir, "agent-fast-path.cjs.cache"), // the shipped cache
      `${oldBuild}.bak`, // not a name this code writes
      join(dir, "agent-fast-path.cjs.fedcba98.v22.0.0-x64.cache"),
    ];
    for (const f of [oldBuild, oldBuildOtherNode, ...kept]) writeFileSync(f, "old");
    const victim = join(dir, "victim");
    writeFileSync(victim, "keep me");
    const link = named("agent-fast-path.cjs", "1111111111111111", "v22.0.0-x64");
    symlinkSync(victim, link);
    const directory = named("agent-fast-path.cjs", "2222222222222222", "v22.0.0-x64");
    mkdirSync(directory);
    expect(writeRuntimeCodeCache(file, data)).toBe(true);
    expect(existsSync(oldBuild)).toBe(false);
    expect(existsSync(oldBuildOtherNode)).toBe(false);
    for (const f of kept) expect(readFileSync(f, "utf8")).toBe("old");
    expect(lstatSync(link).isSymbolicLink()).toBe(true); // not a file this code wrote: left, and never followed
    expect(readFileSync(victim, "utf8")).toBe("keep me");
    expect(lstatSync(directory).isDirectory()).toBe(true);
    expect(readRuntimeCodeCache(file, uid)).toEqual(data);
  });
});

describe("readCacheData", () => {
  it("checks with CHECKSUM_WASM, which is cache-checksum.wat assembled by wat2wasm (Debian's wabt)", () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-wat-"));
    try {
      const wasm = join(dir, "checksum.wasm");
      execFileSync("wat2wasm", ["src/cli/launcher/cache-checksum.wat", "-o", wasm]);
      expect(readFileSync(wasm).toString("base64")).toBe(CHECKSUM_WASM);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the size fstat gave, or nothing: over 16 MiB is not one of ours, a file cut shorter meanwhile not used", () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-cache-data-"));
    const file = join(dir, "x.cache");
    writeFileSync(file, withChecksum(Buffer.from("0123456789")));
    const fd = openSync(file, "r");
    try {
      expect(readCacheData(fd, 10 + CACHE_CHECKSUM_BYTES)?.toString()).toBe("0123456789");
      expect(readCacheData(fd, 11 + CACHE_CHECKSUM_BYTES)).toBeUndefined();
      expect(readCacheData(fd, 16 * 1024 * 1024 + 1)).toBeUndefined();
      // A file that really is that large: over the bound, not read; at it, read.
      writeFileSync(file, withChecksum(Buffer.alloc(16 * 1024 * 1024 - CACHE_CHECKSUM_BYTES, 7)));
      expect(readCacheData(fd, 16 * 1024 * 1024)?.length).toBe(16 * 1024 * 1024 - CACHE_CHECKSUM_BYTES);
      truncateSync(file, 16 * 1024 * 1024 + 1);
      expect(readCacheData(fd, 16 * 1024 * 1024 + 1)).toBeUndefined();
      // Round 33: one byte over with a checksum that matches is refused by its size alone (a mutant without the bound
      // survived the file above, which its checksum refused).
      writeFileSync(file, withChecksum(Buffer.alloc(16 * 1024 * 1024 + 1 - CACHE_CHECKSUM_BYTES, 7)));
      expect(readCacheData(fd, 16 * 1024 * 1024 + 1)).toBeUndefined();
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a file damaged in place: any byte changed, of the text or of its checksum, or two that would cancel out", () => {
    // V8 checks the header of its data, not the rest: damaged data aborted the process (SIGTRAP, SIGSEGV).
    const dir = mkdtempSync(join(tmpdir(), "raa-cache-data-"));
    const file = join(dir, "x.cache");
    const content = Buffer.from(Array.from({ length: 1001 }, (_, i) => (i * 151 + 7) & 0xff));
    const sealed = withChecksum(content);
    expect(sealed.length).toBe(content.length + CACHE_CHECKSUM_BYTES);
    const read = (bytes: Buffer) => {
      writeFileSync(file, bytes);
      const fd = openSync(file, "r");
      try {
        return readCacheData(fd, bytes.length);
      } finally {
        closeSync(fd);
      }
    };
    try {
      expect(read(sealed)).toEqual(content);
      for (let at = 0; at < sealed.length; at++) {
        const damaged = Buffer.from(sealed);
        damaged[at]! ^= 1 << (at % 8);
        expect(read(damaged), `byte ${at}`).toBeUndefined();
      }
      // The top bit of two 8-byte words: a multiply alone carries it to the top bit only, where the next word undoes it.
      const twice = Buffer.from(sealed);
      twice[7]! ^= 0x80;
      twice[15]! ^= 0x80;
      expect(read(twice)).toBeUndefined();
      expect(read(Buffer.concat([sealed, Buffer.alloc(8)]))).toBeUndefined(); // zeros added (the length is hashed)
      expect(read(sealed.subarray(0, CACHE_CHECKSUM_BYTES - 1))).toBeUndefined();
      expect(read(withChecksum(Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("checks the checksum its comment describes: 8-byte words mixed in from the length", () => {
    const mask = (1n << 64n) - 1n;
    const reference = (content: Buffer) => {
      const padded = Buffer.alloc(Math.ceil(content.length / 32) * 32);
      content.copy(padded);
      let h = BigInt(content.length);
      for (let i = 0; i < padded.length; i += 8) {
        h = ((h ^ padded.readBigUInt64LE(i)) * 0x9e3779b185ebca87n) & mask;
        h ^= h >> 29n;
      }
      return h;
    };
    for (const length of [0, 1, 7, 8, 9, 31, 33, 65535, 65536, 65537]) {
      const content = Buffer.from(Array.from({ length }, (_, i) => (i * 31 + length) & 0xff));
      expect(withChecksum(content).readBigUInt64LE(length), `length ${length}`).toBe(reference(content));
    }
  });

  it("damaged in place, the user's cache and another Node's are not read", () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-cache-data-"));
    chmodSync(dir, 0o755);
    const flip = (file: string) => {
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1]! ^= 0x10;
      writeFileSync(file, bytes);
    };
    try {
      const data = Buffer.from("v8 code cache bytes, as many as a cache has ".repeat(20));
      const runtime = join(dir, runtimeCodeCacheFile("credential-process.cjs", "0123456789abcdef", "v22.0.0-x64"));
      expect(writeRuntimeCodeCache(runtime, data)).toBe(true);
      expect(readRuntimeCodeCache(runtime, process.geteuid!())).toEqual(data);
      flip(runtime);
      expect(readRuntimeCodeCache(runtime, process.geteuid!())).toBeUndefined();
      const bundle = join(dir, "credential-process.cjs");
      writeFileSync(bundle, "module.exports = 1;\n");
      const cache = userCodeCache(bundle, "build-1", { HOME: dir, XDG_CACHE_HOME: join(dir, "cache") })!;
      writeUserCodeCache(cache, data);
      expect(readUserCodeCache(cache)).toEqual(data);
      flip(cache.file);
      expect(readUserCodeCache(cache)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
