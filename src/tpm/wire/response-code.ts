/**
 * TPM_RC decoding (Part 2 §6.6): format-0 errors and warnings, format-1 errors with their parameter,
 * handle or session number, and codes made up by software layers (e.g. the kernel resource manager).
 */

const NOT_LOADED = "refers to a transient object or session that is not loaded";

/** Codes by name without TPM_RC_: format-0 errors and warnings whole, format-1 errors as bases (no number added). */
const CODES = {
  INITIALIZE: [0x100, "TPM not initialized by TPM2_Startup or already initialized"],
  FAILURE: [0x101, "the TPM is in failure mode (swtpm: not initialised with CMD_INIT)"],
  SEQUENCE: [0x103, "improper use of a sequence handle"],
  PRIVATE: [0x10b, "not currently used"],
  HMAC: [0x119, "not currently used"],
  DISABLED: [0x120, "the command is disabled"],
  EXCLUSIVE: [0x121, "command failed because audit sequence required exclusivity"],
  AUTH_TYPE: [0x124, "authorization handle is not correct for the command"],
  AUTH_MISSING: [0x125, "the command requires an authorization session for a handle and it is not present"],
  POLICY: [0x126, "policy failure in math operation or an invalid authPolicy value"],
  PCR: [0x127, "PCR check fail"],
  PCR_CHANGED: [0x128, "PCR have changed since checked"],
  UPGRADE: [0x12d, "the TPM is in field upgrade mode"],
  TOO_MANY_CONTEXTS: [0x12e, "context ID counter is at maximum"],
  AUTH_UNAVAILABLE: [0x12f, "authValue or authPolicy is not available for the selected entity"],
  REBOOT: [0x130, "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"],
  UNBALANCED: [0x131, "the protection algorithms (hash and symmetric) are not reasonably balanced"],
  COMMAND_SIZE: [0x142, "command commandSize value is inconsistent with contents of the command buffer"],
  COMMAND_CODE: [0x143, "command code not supported"],
  AUTHSIZE: [0x144, "the value of authorizationSize is out of range or the number of sessions is wrong"],
  AUTH_CONTEXT: [0x145, "use of an authorization session with a context command or another command that cannot have one"],
  NV_RANGE: [0x146, "NV offset+size is out of range"],
  NV_SIZE: [0x147, "requested allocation size is larger than allowed"],
  NV_LOCKED: [0x148, "NV access locked"],
  NV_AUTHORIZATION: [0x149, "NV access authorization fails"],
  NV_UNINITIALIZED: [0x14a, "an NV Index is used before being initialized"],
  NV_SPACE: [0x14b, "insufficient space for NV allocation"],
  NV_DEFINED: [0x14c, "NV Index or persistent object already defined"],
  BAD_CONTEXT: [0x150, "context in TPM2_ContextLoad is not valid"],
  CPHASH: [0x151, "cpHash value already set or not correct for use"],
  PARENT: [0x152, "handle for parent is not a valid parent"],
  NEEDS_TEST: [0x153, "some function needs testing"],
  NO_RESULT: [0x154, "internal function cannot process a request due to an unspecified problem"],
  SENSITIVE: [0x155, "the sensitive area did not unmarshal correctly after decryption"],
  // format 1
  ASYMMETRIC: [0x081, "asymmetric algorithm not supported or not correct"],
  ATTRIBUTES: [0x082, "inconsistent attributes"],
  HASH: [0x083, "hash algorithm not supported or not appropriate"],
  VALUE: [0x084, "value is out of range or is not correct for the context"],
  HIERARCHY: [0x085, "hierarchy is not enabled or is not correct for the use"],
  KEY_SIZE: [0x087, "key size is not supported"],
  MGF: [0x088, "mask generation function not supported"],
  MODE: [0x089, "mode of operation not supported"],
  TYPE: [0x08a, "the type of the value is not appropriate for the use"],
  HANDLE: [0x08b, "the handle is not correct for the use"],
  KDF: [0x08c, "unsupported key derivation function or function not appropriate for use"],
  RANGE: [0x08d, "value was out of allowed range"],
  AUTH_FAIL: [0x08e, "the authorization HMAC check failed and the DA counter was incremented"],
  NONCE: [0x08f, "invalid nonce size or nonce value mismatch"],
  PP: [0x090, "authorization requires assertion of physical presence"],
  SCHEME: [0x092, "unsupported or incompatible scheme"],
  SIZE: [0x095, "structure is the wrong size"],
  SYMMETRIC: [0x096, "unsupported symmetric algorithm or key size, or not appropriate for instance"],
  TAG: [0x097, "incorrect structure tag"],
  SELECTOR: [0x098, "union selector is incorrect"],
  INSUFFICIENT: [0x09a, "the TPM was unable to unmarshal a value because there were not enough octets in the input buffer"],
  SIGNATURE: [0x09b, "the signature is not valid"],
  KEY: [0x09c, "key fields are not compatible with the selected use"],
  POLICY_FAIL: [0x09d, "a policy check failed"],
  INTEGRITY: [0x09f, "integrity check failed"],
  TICKET: [0x0a0, "invalid ticket"],
  RESERVED_BITS: [0x0a1, "reserved bits not set to zero as required"],
  BAD_AUTH: [0x0a2, "authorization failure without DA implications"],
  EXPIRED: [0x0a3, "the policy has expired"],
  POLICY_CC: [0x0a4, "the commandCode in the policy is not the commandCode of the command"],
  BINDING: [0x0a5, "public and sensitive portions of an object are not cryptographically bound"],
  CURVE: [0x0a6, "curve not supported"],
  ECC_POINT: [0x0a7, "point is not on the required curve"],
  // warnings
  CONTEXT_GAP: [0x901, "gap for context ID is too large"],
  OBJECT_MEMORY: [0x902, "out of memory for object contexts"],
  SESSION_MEMORY: [0x903, "out of memory for session contexts"],
  MEMORY: [0x904, "out of shared object/session memory or need space for internal operations"],
  SESSION_HANDLES: [0x905, "out of session handles"],
  OBJECT_HANDLES: [0x906, "out of object handles"],
  LOCALITY: [0x907, "bad locality"],
  YIELDED: [0x908, "the TPM has suspended operation on the command"],
  CANCELED: [0x909, "the command was canceled"],
  TESTING: [0x90a, "TPM is performing self-tests"],
  NV_RATE: [0x920, "the TPM is rate-limiting accesses to prevent wearout of NV"],
  LOCKOUT: [0x921, "authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode"],
  RETRY: [0x922, "the TPM was not able to start the command"],
  NV_UNAVAILABLE: [0x923, "the command may require writing of NV and NV is not currently accessible"],
  REFERENCE_H0: [0x910, `handle 1 of the handle area ${NOT_LOADED}`],
  REFERENCE_S0: [0x918, "session 1 of the authorization area is not loaded"],
} as const satisfies Record<string, readonly [number, string]>;

export const RC = Object.fromEntries(Object.entries(CODES).map(([name, [code]]) => [name, code])) as Record<keyof typeof CODES, number>;

const entries = Object.entries(CODES).map(([name, [code, text]]) => [code, [`TPM_RC_${name}`, text]] as const);
const BY_CODE = new Map<number, readonly [string, string]>(entries);
for (let i = 1; i < 7; i++) {
  BY_CODE.set(RC.REFERENCE_H0 + i, [`TPM_RC_REFERENCE_H${i}`, `handle ${i + 1} of the handle area ${NOT_LOADED}`]);
  BY_CODE.set(RC.REFERENCE_S0 + i, [`TPM_RC_REFERENCE_S${i}`, `session ${i + 1} of the authorization area is not loaded`]);
}

export interface DecodedResponseCode {
  readonly rc: number;
  readonly kind: "success" | "error" | "warning" | "tpm12" | "vendor" | "software";
  /** The code without its parameter/handle/session number: e.g. 0x08E for 0x98E, 0x921 for 0x921. */
  readonly base: number;
  readonly name: string;
  readonly description: string;
  readonly parameter?: number;
  readonly handle?: number;
  readonly session?: number;
}

/** Warnings after which the identical command is sent again (as tpm2-tss ESYS does): RETRY, YIELDED, TESTING. */
export const RETRYABLE_RESPONSE_CODES: ReadonlySet<number> = new Set([RC.RETRY, RC.YIELDED, RC.TESTING]);

export function decodeResponseCode(rc: number): DecodedResponseCode {
  rc >>>= 0;
  if (rc === 0) return { rc, kind: "success", base: 0, name: "TPM_RC_SUCCESS", description: "success" };
  const layer = (rc >>> 16) & 0xff;
  if (layer !== 0) {
    const inner = rc & 0xffff;
    const innerName = inner ? decodeResponseCode(inner).name : "unknown";
    const who = layer === 11 ? "resource manager" : `software layer ${layer}`;
    return { rc, kind: "software", base: rc, name: `${who}:${innerName}`, description: `reported by the ${who}, not the TPM` };
  }
  if (rc & 0x80) {
    const e = rc & 0x3f;
    const base = 0x80 + e;
    const [name, description] = BY_CODE.get(base) ?? [`TPM_RC_FMT1_0x${e.toString(16)}`, "unknown format-1 error"];
    const d = { rc, kind: "error", base, name, description } as const;
    const n = (rc >>> 8) & 0xf;
    return rc & 0x40 ? { ...d, parameter: n } : n & 0x8 ? { ...d, session: n & 0x7 } : n ? { ...d, handle: n } : d;
  }
  if (!(rc & 0x100)) return { rc, kind: "tpm12", base: rc, name: `TPM 1.2 code 0x${rc.toString(16)}`, description: "not a TPM 2.0 response" };
  if (rc & 0x400) return { rc, kind: "vendor", base: rc, name: `vendor code 0x${rc.toString(16)}`, description: "vendor-defined" };
  const e = rc & 0x7f;
  if (rc & 0x800) {
    const [name, description] = BY_CODE.get(0x900 | e) ?? [`TPM_RC_WARN_0x${e.toString(16)}`, "unknown warning"];
    return { rc, kind: "warning", base: rc & 0xfff, name, description };
  }
  const [name, description] = BY_CODE.get(0x100 | e) ?? [`TPM_RC_0x${e.toString(16)}`, "unknown error"];
  return { rc, kind: "error", base: rc & 0xfff, name, description };
}

/** e.g. `TPM_RC_AUTH_FAIL (session 1, rc 0x98e): the authorization HMAC check failed…` */
export function formatResponseCode(rc: number): string {
  const d = decodeResponseCode(rc);
  const where =
    d.parameter !== undefined ? `parameter ${d.parameter}, ` : d.handle !== undefined ? `handle ${d.handle}, ` : d.session !== undefined ? `session ${d.session}, ` : "";
  return `${d.name} (${where}rc 0x${d.rc.toString(16)}): ${d.description}`;
}
