/** Loading and initialising a PKCS#11 module on pkcs11js, required here only, lazily, and sharing it within the process. */
import type { PKCS11 } from "pkcs11js";
import { readFileSync, realpathSync, statfsSync, statSync, type BigIntStats } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { DeviceError, InputError } from "../errors.js";
import type { DebugLog } from "../debug-log.js";
import { findInstalledModules, type ModuleChoice } from "./module-path.js";
import { requirePkcs11js } from "./addon-status.js";
import { describeCkr, quietly } from "./pkcs11-errors.js";
import { CKF } from "./constants.js";
import { isNotDirect, loadNativeHelper, type NativeHelper } from "../os/native-helper.js";

export interface LibraryInfo {
  readonly manufacturer: string;
  readonly description: string;
  readonly version: { readonly major: number; readonly minor: number };
}

/** An initialised module, shared by every signer of this process that uses the same library file. */
export class Pkcs11Module {
  /** Incremented by each re-initialisation: sessions opened in an older generation are dead. */
  generation = 0;
  refs = 0;
  /** False once raa_native found it may not call through this module's function list (objects.ts boundedRead, directCall). */
  directReads: boolean | undefined;

  constructor(
    readonly path: string,
    readonly lib: PKCS11,
    readonly info: LibraryInfo,
    /** This thread initialised it (initialize): its last release finalises it. */
    public owned: boolean,
    /** The class that made `lib`: raa_native reads through no object that is not one of its instances. */
    readonly pkcs11: new () => PKCS11,
  ) {}

  /**
   * C_Finalize + C_Initialize: makes modules such as SoftHSM rescan their tokens after one went away. Only a module
   * this thread initialised: C_Finalize of the application's (or another thread's) would end all its sessions.
   */
  reinitialize(): void {
    if (!this.owned) return;
    // Already finalised, or the token vanished mid-call: initialising again is what matters.
    quietly(() => this.lib.C_Finalize());
    this.owned = initialize(this.lib, this.path).owned;
    this.generation++;
  }
}

export interface ModuleLease {
  readonly module: Pkcs11Module;
  /** Drops this user's reference; the last one unloads the module, finalising it if it owns it. Idempotent. */
  release(): void;
}

/*
 * A PKCS#11 library is process-wide state: C_Initialize may run once per process and one C_Finalize ends
 * the sessions of every user. Signers that share a library therefore share one initialised instance,
 * counted here; this map mirrors that state rather than adding any.
 */
const loaded = new Map<string, Pkcs11Module>();

export async function acquireModule(choice: ModuleChoice, debug?: DebugLog): Promise<ModuleLease> {
  const key = registryKey(choice.path);
  // Synchronous from the lookup to the set: two signers opening at once share one module, not one finalising both.
  const module = loaded.get(key) ?? load(choice, debug);
  loaded.set(key, module);
  warnIfReplaced(choice.path);
  module.refs++;
  let released = false;
  return {
    module,
    release() {
      if (released) return;
      released = true;
      module.refs--;
      if (module.refs > 0) return;
      loaded.delete(key);
      if (module.owned) quietly(() => module.lib.C_Finalize());
      quietly(() => module.lib.close());
    },
  };
}

/** Each replacement told once: the identity of the file at the module's real path now, and that path. */
const toldReplaced = new Set<string>();

/**
 * A module replaced on disk (a package upgrade) while this process has it mapped: dlopen() of its path gives the copy
 * in memory again, since a library cannot be unloaded while another signer uses it (nor some at all). Said, not hidden.
 */
function warnIfReplaced(path: string): void {
  let real: string, now: BigIntStats, maps: string, inodeOnly: boolean;
  try {
    real = realpathSync(path);
    now = statSync(real, { bigint: true });
    inodeOnly = INODE_ONLY.has(statfsSync(real).type);
    maps = readFileSync("/proc/self/maps", "latin1");
  } catch {
    return; // a bare name, or no /proc: nothing to compare
  }
  const replaced = replacedIn(maps, real, now, inodeOnly);
  if (replaced === undefined || toldReplaced.has(replaced)) return;
  toldReplaced.add(replaced);
  process.emitWarning(`the PKCS#11 module ${path} was replaced on disk, but this process still runs the copy it loaded `
    + "before (a loaded library cannot be reloaded): restart it to use the new one", { code: "RAA_MODULE_REPLACED" });
}

/**
 * statfs's f_type of the filesystems where stat and /proc/PID/maps name different devices for one file, inode numbers
 * alike: overlayfs (a layer's and the overlay's on Linux 6.18 with layers on two filesystems; the file under it before
 * 6.7 in maps) and btrfs (the subvolume's and the filesystem's, the top level's too).
 */
const INODE_ONLY = new Set([0x794c7630, 0x9123683e]);

/**
 * When `maps` (/proc/self/maps) maps files from `path` and none is `now`, the file at the path: its identity and path
 * (device and inode, as maps has them, "major:minor" in hex; the inode alone on INODE_ONLY's). Undefined if it is mapped,
 * or nothing is.
 */
export function replacedIn(maps: string, path: string, now: Pick<BigIntStats, "dev" | "ino">, inodeOnly: boolean): string | undefined {
  const id = (major: bigint, minor: bigint, ino: bigint) => (inodeOnly ? `${ino}` : `${major}:${minor} ${ino}`);
  const { dev } = now; // glibc's encoding of major and minor
  const current = id(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn), (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n), now.ino);
  let mapped = false;
  for (const line of maps.split("\n")) {
    const fields = /^(?:\S+ ){3}([0-9a-f]+):([0-9a-f]+) (\d+) +(.+?)(?: \(deleted\))?$/.exec(line);
    if (fields?.[4] !== path) continue;
    if (id(BigInt(`0x${fields[1]}`), BigInt(`0x${fields[2]}`), BigInt(fields[3]!)) === current) return undefined;
    mapped = true;
  }
  return mapped ? `${current} ${path}` : undefined;
}

function registryKey(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The variables naming a config that a module (or the p11-kit proxy, which loads them all) reads in C_Initialize:
 * from a FIFO or /dev/zero it never returns, at full CPU.
 */
const CONFIG_VARIABLES = [
  [/softhsm|p11-kit/i, "SoftHSM", "SOFTHSM2_CONF", "softhsm2.conf"],
  [/opensc|p11-kit/i, "OpenSC", "OPENSC_CONF", "opensc.conf"],
] as const;

function load(choice: ModuleChoice, debug?: DebugLog): Pkcs11Module {
  // A bare name is searched by the loader: left to dlopen() and its error.
  if (choice.path.includes("/")) {
    const module = `the PKCS#11 module ${choice.path} (${choice.origin})`;
    refuseNonFile(choice.path, `${module} is not a regular file; it was not loaded`,
      `pass the module's shared library (a .so file) with ${choice.option} or module-path=`);
  }
  for (const [modules, product, variable, file] of CONFIG_VARIABLES) {
    const conf = process.env[variable];
    if (!conf || !modules.test(choice.path)) continue;
    const hangs = `${product} hangs reading its config from a FIFO or device`;
    refuseNonFile(conf, `${variable} (${conf}) is not a regular file (${hangs}); ${choice.path} was not loaded`,
      `point ${variable} at its config file (${file}), or unset it`);
  }
  const { PKCS11 } = requirePkcs11js();
  const lib = new PKCS11();
  tagForDirectReads(lib, PKCS11);
  try {
    lib.load(choice.path);
  } catch (cause) {
    const candidates = findInstalledModules();
    const reason = (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
    const install = "install one (softhsm2, opensc, ykcs11, libtpm2-pkcs11-1)";
    throw new DeviceError("PKCS11_MODULE_NOT_FOUND", `cannot load the PKCS#11 module ${choice.path} (${choice.origin}): ${reason}`, {
      cause,
      hint:
        candidates.length > 0
          ? `modules found on this system: ${candidates.join(", ")}; pass one with ${choice.option} or module-path=`
          : `no PKCS#11 module was found on this system: ${install} and pass it with ${choice.option}`,
    });
  }
  try {
    const { info, owned } = initialize(lib, choice.path);
    debug?.(`pkcs11: loaded ${choice.path} (${choice.origin}): ${info.description} ${info.version.major}.${info.version.minor} by ${info.manufacturer}`);
    return new Pkcs11Module(choice.path, lib, info, owned, PKCS11);
  } catch (error) {
    quietly(() => lib.close());
    throw error;
  }
}

/**
 * Marks `lib`, just made, as the agent's own pkcs11js object: the one kind raa_native reads through (objects.ts
 * boundedRead); one made elsewhere, or another addon's object given PKCS11's prototype, it refuses unread. Without the
 * helper nothing is tagged, nor read by it; should it refuse (it cannot, for a new object), pkcs11js reads, as then.
 */
function tagForDirectReads(lib: PKCS11, pkcs11: new () => PKCS11): void {
  quietly(() => loadNativeHelper().helper?.tagPkcs11?.(lib, pkcs11));
}

/**
 * A module, or a config its C_Initialize reads (CONFIG_VARIABLES), must be a regular file: dlopen() of a FIFO
 * waits for a writer forever, and of a device or directory fails obscurely.
 */
function refuseNonFile(path: string, message: string, hint: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return; // missing or unreachable: dlopen() or the module says which
  }
  if (stats.isFile()) return;
  throw new InputError("FILE_NOT_REGULAR", message, { hint });
}

/**
 * C_Initialize, then C_GetInfo. `owned`: initialised here, in the main thread. A module initialised already (by
 * another worker thread, or by the application's own pkcs11js) is used but never finalised: that would end the
 * sessions of its other users; nor is one a worker thread initialised, which other threads may be using by then.
 */
function initialize(lib: PKCS11, path: string): { info: LibraryInfo; owned: boolean } {
  try {
    let owned = isMainThread;
    try {
      lib.C_Initialize({ flags: CKF.OS_LOCKING_OK });
    } catch (error) {
      if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test((error as Error).message)) throw error;
      owned = false;
    }
    const info = lib.C_GetInfo();
    const version = { major: info.libraryVersion.major, minor: info.libraryVersion.minor };
    return { info: { manufacturer: unpad(info.manufacturerID), description: unpad(info.libraryDescription), version }, owned };
  } catch (cause) {
    throw new DeviceError("PKCS11_ERROR", `C_Initialize of the PKCS#11 module ${path} failed: ${describeCkr(cause)}`, {
      cause,
      hint: /softhsm/i.test(path) ? "SoftHSM reads its token directory from SOFTHSM2_CONF: check that the variable points at a readable config" : "check the module's own configuration and logs",
    });
  }
}

/**
 * raa_native's `call` through `module`'s pkcs11js (the PIN's login, token info): undefined without the helper, once
 * its direct calls are off, or when it threw before calling the module: RAA_NOT_DIRECT (off from then on, reads too)
 * or a TypeError (a lib it cannot take: a stand-in). Any other failure is thrown.
 */
export function directCall<T>(module: Pkcs11Module, call: (helper: NativeHelper) => T | undefined): T | undefined {
  const helper = module.directReads === false ? undefined : loadNativeHelper().helper;
  if (helper === undefined) return undefined;
  try {
    return call(helper);
  } catch (error) {
    if (isNotDirect(error)) module.directReads = false;
    else if (!(error instanceof TypeError)) throw error;
    return undefined;
  }
}

/**
 * A fixed-size CK_INFO/CK_SLOT_INFO/CK_TOKEN_INFO text without its blank padding (RFC 7512 §2.3 compares without
 * it), cut at a NUL as well: some modules write a C string into the field and leave stale bytes after it.
 */
export function unpad(text: string): string {
  return text.replace(/\0[^]*/, "").replace(/ +$/, ""); // blanks only: a trailing tab or U+00A0 is the label's
}

/** Whether a label read through pkcs11js is the token's own text: no U+FFFD, which may stand for bytes it dropped. */
export function labelKnown(label: string): boolean {
  return !label.includes("\ufffd");
}
