import { existsSync, realpathSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { MAX_ERROR_TEXT, UsageError } from "../errors.js";
import { distDirectory, thisModuleFile } from "./module-file.js";
import { othersCouldPlant, plantedRefusal, type PlantedPath } from "./planted-code.js";

// The native helper (below) and the protections of a process that holds secrets: no core file, no inspector.

/**
 * The project's own N-API addon (native/raa_native.c, shipped prebuilt as dist/native/<platform>-<arch>/) for
 * what Node.js has no API for. Optional: callers fall back and say what is then not protected; loaded only by
 * the code that needs it, never on the cold credential_process path.
 */
export interface NativeHelper {
  /** prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0; true when the process is now non-dumpable. */
  disableCoreDumps(): boolean;
  /** prctl(PR_GET_DUMPABLE): 1 dumpable, 0 not, -1 where the OS has no such flag. */
  isDumpable(): number;
  /** The uid, gid and pid (-1 where unknown) of the process at the other end of a connected UNIX socket. */
  peerCredentials(fd: number): { uid: number; gid: number; pid: number };
  /** One datagram to a UNIX datagram socket (`@name`: abstract namespace): systemd's sd_notify protocol. */
  notify(path: string, text: string): void;
  /** An open file's POSIX access ACL (xattr system.posix_acl_access), null when it has none. Linux only. */
  accessAcl?(fd: number): Buffer | null;
  /** Sets (null: removes) an open file's POSIX access ACL. Linux only. */
  setAccessAcl?(fd: number, acl: Buffer | null): void;
  /**
   * C_GetAttributeValue through the function list of `lib`, the pkcs11js PKCS11 (an instance of `pkcs11`) that loaded
   * `modulePath` (never loads one): the values within their bound (-1: none), false for one longer, null for one not
   * given; a number: the call's CK_RV. Throws an Error with code `RAA_NOT_DIRECT` when that module is not loaded, or
   * `lib` did not load it or tagPkcs11 did not tag it; `ENOMEM` when a length the module gives cannot be allocated; a TypeError for bad arguments.
   */
  pkcs11Attributes?(lib: object, pkcs11: abstract new () => object, modulePath: string, session: Buffer, object: Buffer, types: readonly number[], bounds: readonly number[]): number | (Buffer | null | false)[];
  /**
   * Tags `lib`, a pkcs11js PKCS11 the agent's loader has just made with `pkcs11` (napi_type_tag_object): the one kind
   * of object pkcs11Attributes reads through. Throws an Error with code `RAA_NOT_DIRECT` for one tagged already or not
   * such an instance.
   */
  tagPkcs11?(lib: object, pkcs11: abstract new () => object): void;
  /**
   * C_Login through the same function list as pkcs11Attributes, checked the same way, with a pointer into `pin` (no
   * copy: the caller's wipe is the only one needed): the call's CK_RV. Throws as pkcs11Attributes does, always before
   * C_Login is called.
   */
  pkcs11Login?(lib: object, pkcs11: abstract new () => object, modulePath: string, session: Buffer, userType: number, pin: Buffer): number;
  /**
   * C_GetTokenInfo through the same function list, checked the same way: the token's text fields as the module wrote
   * them (blank padding kept: 32, 32, 16, 16 bytes), which pkcs11js decodes as UTF-8 (U+FFFD for a byte that is not);
   * a number: the call's CK_RV. Throws as pkcs11Attributes does, always before C_GetTokenInfo is called.
   */
  pkcs11TokenInfo?(lib: object, pkcs11: abstract new () => object, modulePath: string, slot: Buffer): number | Pkcs11TokenInfoBytes;
}

/** CK_TOKEN_INFO's text fields, their bytes as the module wrote them (raa_native's pkcs11TokenInfo). */
export interface Pkcs11TokenInfoBytes {
  readonly label: Buffer;
  readonly manufacturerID: Buffer;
  readonly model: Buffer;
  readonly serialNumber: Buffer;
}

export type NativeHelperLoad =
  | { readonly helper: NativeHelper; readonly reason?: undefined; readonly planted?: undefined }
  | { readonly helper?: undefined; readonly reason: string; readonly planted?: PlantedPath };

/** raa_native's error code for "not through this module's function list": the only failure that ends its direct reads and logins. */
export const isNotDirect = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === "RAA_NOT_DIRECT";

/** What a process without the helper risks (cli/long-running.ts warns with it, doctor's row says it). */
export const DUMPABLE_RISK = "a core dump, or another process of this user, could read PINs, passwords and credentials from its memory";

const NATIVE_HELPER_FILE = join("native", `${process.platform}-${process.arch}`, "raa_native.node");

let loaded: NativeHelperLoad | undefined;

export const nativeHelperPath = (): string => join(distDirectory(), NATIVE_HELPER_FILE);

/** The native helper, or why it is not available. Costs one dlopen (~0.3 ms) the first time. */
export function loadNativeHelper(): NativeHelperLoad {
  if (loaded) return loaded;
  const dist = distDirectory();
  const path = nativeHelperPath();
  if (!existsSync(path)) return (loaded = { reason: `${NATIVE_HELPER_FILE} is not part of this installation` });
  try {
    const real = realpathSync(path); // loaded by this name, not `path`: a link on the way, not judged, may be re-pointed
    const fault = othersCouldPlant(real, dist, statSync(thisModuleFile()).uid);
    if (fault) return (loaded = { reason: plantedReason(path, fault), planted: fault });
    const module = { exports: {} as NativeHelper };
    process.dlopen(module, real);
    loaded = { helper: module.exports };
  } catch (error) {
    loaded = { reason: `${path} cannot be loaded: ${(error as Error).message.split("\n")[0]}` };
  }
  return loaded;
}

/**
 * Why the helper at `path` is refused, with the fix when the whole stays within {@link MAX_PLANTED_REASON}: callers put
 * it into messages of their own (cut at MAX_ERROR_TEXT), with their words and paths around it; naming the install path
 * twice, a longer one (~600 characters) would have the cut fall inside the fix's quoted path. doctor's row gives the fix
 * on its own in its hint.
 */
function plantedReason(path: string, fault: PlantedPath): string {
  const refusal = plantedRefusal(path, fault);
  const withFix = `${refusal} (check what is in it, then: ${fault.fix})`;
  return withFix.length <= MAX_PLANTED_REASON ? withFix : `${refusal} (check what is in it; roles-anywhere-agent doctor gives the command that fixes it)`;
}

/** The longest refusal {@link loadNativeHelper} gives with its fix: half a message, the other half its callers'. */
export const MAX_PLANTED_REASON = MAX_ERROR_TEXT / 2;

/**
 * No Node.js inspector: whoever connects to its TCP port (any local user) runs code in the process and takes its
 * PINs, keys and credentials. One open (`--inspect` in NODE_OPTIONS) is refused; SIGUSR1, by which Node would open
 * one on request of any process of the same user (non-dumpable or not), is ignored from now on.
 */
export function refuseInspector(): void {
  process.on("SIGUSR1", () => {}); // a listener of its own stops Node from opening the inspector on this signal
  const inspector = process.features.inspector ? process.getBuiltinModule("node:inspector").url() : undefined;
  if (inspector === undefined) return;
  const risk = "any local user could connect and take the PINs, keys and credentials in this process";
  throw new UsageError("USAGE", `the Node.js inspector is open on ${new URL(inspector).host}: ${risk}`, {
    hint: "remove --inspect (and --inspect-brk, --inspect-wait) from NODE_OPTIONS and node's options",
  });
}

/**
 * The CLI's one-shot commands, before their first PIN or password (a token, a TPM, an encrypted key, a prompt): no
 * inspector (refuseInspector), and no core file from then on, should a PKCS#11 module crash under `ulimit -c
 * unlimited`, and nobody else of this user reads the memory. Silent where the helper is missing (the daemons warn:
 * long-running.ts): it runs seconds, not days.
 */
export function protectSecrets(): void {
  refuseInspector();
  try {
    loadNativeHelper().helper?.disableCoreDumps();
  } catch {
    /* as without the helper: the system's settings hold */
  }
}

/** Whether a peer of this uid may talk to a process of `uid` (either way: an agent, its client, a TPM simulator): the same user, or root. */
export function isTrustedPeerUid(peerUid: number, uid: number): boolean {
  return peerUid === uid || peerUid === 0;
}

/** The uid and pid at the other end of a connected UNIX socket; undefined when Node gives no descriptor. */
export function peerOf(socket: Socket, helper: NativeHelper): { uid: number; pid: number } | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? helper.peerCredentials(fd) : undefined;
}
