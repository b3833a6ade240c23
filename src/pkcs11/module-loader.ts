/** Loading and initialising a PKCS#11 module with graphene-pk11, imported here only, lazily; all other calls use the raw binding. */
import type * as Graphene from "graphene-pk11";
import type { PKCS11 } from "pkcs11js";
import { realpathSync } from "node:fs";
import { DeviceError } from "../errors.js";
import { findInstalledModules, type ModuleChoice } from "./module-path.js";
import { addonMissingError } from "./addon-status.js";
import { describeCkr } from "./pkcs11-errors.js";
import { CKF } from "./constants.js";

/** Receives diagnostic lines for --debug (the signers' DebugLog); never passed a secret. */
export type DebugLog = (line: string) => void;

export interface LibraryInfo {
  readonly manufacturer: string;
  readonly description: string;
  readonly version: { readonly major: number; readonly minor: number };
}

/** An initialised module, shared by every signer of this process that uses the same library file. */
export interface Pkcs11Module {
  readonly path: string;
  readonly lib: PKCS11;
  readonly info: LibraryInfo;
  /** Incremented by each re-initialisation: sessions opened in an older generation are dead. */
  readonly generation: number;
  /** C_Finalize + C_Initialize: makes modules such as SoftHSM rescan their tokens after one went away. */
  reinitialize(): void;
}

export interface ModuleLease {
  readonly module: Pkcs11Module;
  /** Drops this user's reference; the last one finalises and unloads the module. Idempotent. */
  release(): void;
}

class SharedModule implements Pkcs11Module {
  generation = 0;
  refs = 0;

  constructor(
    readonly path: string,
    readonly module: Graphene.Module,
    readonly info: LibraryInfo,
  ) {}

  get lib(): PKCS11 {
    return this.module.lib;
  }

  reinitialize(): void {
    // Already finalised, or the token vanished mid-call: initialising again is what matters.
    quietly(() => this.module.finalize());
    initialize(this.module, this.path);
    this.generation++;
  }
}

/*
 * A PKCS#11 library is process-wide state: C_Initialize may run once per process and one C_Finalize ends
 * the sessions of every user. Signers that share a library therefore share one initialised instance,
 * counted here; this map mirrors that state rather than adding any.
 */
const loaded = new Map<string, SharedModule>();

export async function acquireModule(choice: ModuleChoice, debug?: DebugLog): Promise<ModuleLease> {
  const key = registryKey(choice.path);
  let shared = loaded.get(key);
  if (shared === undefined) {
    shared = await load(choice, debug);
    loaded.set(key, shared);
  }
  shared.refs++;
  let released = false;
  const module = shared;
  return {
    module,
    release() {
      if (released) return;
      released = true;
      module.refs--;
      if (module.refs > 0) return;
      loaded.delete(key);
      quietly(() => module.module.finalize());
      quietly(() => module.module.close());
    },
  };
}

function registryKey(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

async function load(choice: ModuleChoice, debug?: DebugLog): Promise<SharedModule> {
  // Optional dependencies (file and TPM keys work without them): addon-status.ts says why they are missing.
  const imported = await import("graphene-pk11").catch((cause: unknown) => {
    throw addonMissingError(cause);
  });
  // graphene-pk11 is CommonJS: under native ESM its API may sit on the default export.
  const graphene = (imported as unknown as { default?: typeof Graphene }).default ?? imported;
  let module: Graphene.Module;
  try {
    module = graphene.Module.load(choice.path);
  } catch (cause) {
    const candidates = findInstalledModules();
    const reason = (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
    throw new DeviceError("PKCS11_MODULE_NOT_FOUND", `cannot load the PKCS#11 module ${choice.path} (${choice.origin}): ${reason}`, {
      cause,
      hint:
        candidates.length > 0
          ? `modules found on this system: ${candidates.join(", ")}; pass one with --pkcs11-lib or module-path=`
          : "no PKCS#11 module was found on this system: install one (softhsm2, opensc, ykcs11, libtpm2-pkcs11-1) and pass it with --pkcs11-lib",
    });
  }
  try {
    initialize(module, choice.path);
  } catch (error) {
    quietly(() => module.close());
    throw error;
  }
  const info: LibraryInfo = {
    manufacturer: module.manufacturerID,
    description: module.libraryDescription,
    version: { major: module.libraryVersion.major, minor: module.libraryVersion.minor },
  };
  debug?.(`pkcs11: loaded ${choice.path} (${choice.origin}): ${info.description} ${info.version.major}.${info.version.minor} by ${info.manufacturer}`);
  return new SharedModule(choice.path, module, info);
}

function initialize(module: Graphene.Module, path: string): void {
  try {
    module.initialize({ flags: CKF.OS_LOCKING_OK });
  } catch (cause) {
    throw new DeviceError("PKCS11_ERROR", `C_Initialize of the PKCS#11 module ${path} failed: ${describeCkr(cause)}`, {
      cause,
      hint: /softhsm/i.test(path) ? "SoftHSM reads its token directory from SOFTHSM2_CONF: check that the variable points at a readable config" : "check the module's own configuration and logs",
    });
  }
}

/** For clean-up calls whose failure changes nothing (shutting down, or the first error is the one to report). */
function quietly(action: () => void): void {
  try {
    action();
  } catch {
    /* nothing useful to do */
  }
}
