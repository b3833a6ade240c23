/**
 * TPM_RC decoding (Part 2 §6.6): format-0 errors and warnings, format-1 errors with their parameter,
 * handle or session number, and codes made up by software layers (e.g. the kernel resource manager).
 */

const FORMAT0_ERRORS: Readonly<Record<number, [string, string]>> = {
  0x000: ["TPM_RC_INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized"],
  0x001: ["TPM_RC_FAILURE", "the TPM is in failure mode (swtpm: not initialised with CMD_INIT)"],
  0x003: ["TPM_RC_SEQUENCE", "improper use of a sequence handle"],
  0x00b: ["TPM_RC_PRIVATE", "not currently used"],
  0x019: ["TPM_RC_HMAC", "not currently used"],
  0x020: ["TPM_RC_DISABLED", "the command is disabled"],
  0x021: ["TPM_RC_EXCLUSIVE", "command failed because audit sequence required exclusivity"],
  0x024: ["TPM_RC_AUTH_TYPE", "authorization handle is not correct for the command"],
  0x025: ["TPM_RC_AUTH_MISSING", "the command requires an authorization session for a handle and it is not present"],
  0x026: ["TPM_RC_POLICY", "policy failure in math operation or an invalid authPolicy value"],
  0x027: ["TPM_RC_PCR", "PCR check fail"],
  0x028: ["TPM_RC_PCR_CHANGED", "PCR have changed since checked"],
  0x02d: ["TPM_RC_UPGRADE", "the TPM is in field upgrade mode"],
  0x02e: ["TPM_RC_TOO_MANY_CONTEXTS", "context ID counter is at maximum"],
  0x02f: ["TPM_RC_AUTH_UNAVAILABLE", "authValue or authPolicy is not available for the selected entity"],
  0x030: ["TPM_RC_REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"],
  0x031: ["TPM_RC_UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced"],
  0x042: ["TPM_RC_COMMAND_SIZE", "command commandSize value is inconsistent with contents of the command buffer"],
  0x043: ["TPM_RC_COMMAND_CODE", "command code not supported"],
  0x044: ["TPM_RC_AUTHSIZE", "the value of authorizationSize is out of range or the number of sessions is wrong"],
  0x045: ["TPM_RC_AUTH_CONTEXT", "use of an authorization session with a context command or another command that cannot have one"],
  0x046: ["TPM_RC_NV_RANGE", "NV offset+size is out of range"],
  0x047: ["TPM_RC_NV_SIZE", "requested allocation size is larger than allowed"],
  0x048: ["TPM_RC_NV_LOCKED", "NV access locked"],
  0x049: ["TPM_RC_NV_AUTHORIZATION", "NV access authorization fails"],
  0x04a: ["TPM_RC_NV_UNINITIALIZED", "an NV Index is used before being initialized"],
  0x04b: ["TPM_RC_NV_SPACE", "insufficient space for NV allocation"],
  0x04c: ["TPM_RC_NV_DEFINED", "NV Index or persistent object already defined"],
  0x050: ["TPM_RC_BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"],
  0x051: ["TPM_RC_CPHASH", "cpHash value already set or not correct for use"],
  0x052: ["TPM_RC_PARENT", "handle for parent is not a valid parent"],
  0x053: ["TPM_RC_NEEDS_TEST", "some function needs testing"],
  0x054: ["TPM_RC_NO_RESULT", "internal function cannot process a request due to an unspecified problem"],
  0x055: ["TPM_RC_SENSITIVE", "the sensitive area did not unmarshal correctly after decryption"],
};

const FORMAT1_ERRORS: Readonly<Record<number, [string, string]>> = {
  0x01: ["TPM_RC_ASYMMETRIC", "asymmetric algorithm not supported or not correct"],
  0x02: ["TPM_RC_ATTRIBUTES", "inconsistent attributes"],
  0x03: ["TPM_RC_HASH", "hash algorithm not supported or not appropriate"],
  0x04: ["TPM_RC_VALUE", "value is out of range or is not correct for the context"],
  0x05: ["TPM_RC_HIERARCHY", "hierarchy is not enabled or is not correct for the use"],
  0x07: ["TPM_RC_KEY_SIZE", "key size is not supported"],
  0x08: ["TPM_RC_MGF", "mask generation function not supported"],
  0x09: ["TPM_RC_MODE", "mode of operation not supported"],
  0x0a: ["TPM_RC_TYPE", "the type of the value is not appropriate for the use"],
  0x0b: ["TPM_RC_HANDLE", "the handle is not correct for the use"],
  0x0c: ["TPM_RC_KDF", "unsupported key derivation function or function not appropriate for use"],
  0x0d: ["TPM_RC_RANGE", "value was out of allowed range"],
  0x0e: ["TPM_RC_AUTH_FAIL", "the authorization HMAC check failed and the DA counter was incremented"],
  0x0f: ["TPM_RC_NONCE", "invalid nonce size or nonce value mismatch"],
  0x10: ["TPM_RC_PP", "authorization requires assertion of physical presence"],
  0x12: ["TPM_RC_SCHEME", "unsupported or incompatible scheme"],
  0x15: ["TPM_RC_SIZE", "structure is the wrong size"],
  0x16: ["TPM_RC_SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance"],
  0x17: ["TPM_RC_TAG", "incorrect structure tag"],
  0x18: ["TPM_RC_SELECTOR", "union selector is incorrect"],
  0x1a: ["TPM_RC_INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets in the input buffer"],
  0x1b: ["TPM_RC_SIGNATURE", "the signature is not valid"],
  0x1c: ["TPM_RC_KEY", "key fields are not compatible with the selected use"],
  0x1d: ["TPM_RC_POLICY_FAIL", "a policy check failed"],
  0x1f: ["TPM_RC_INTEGRITY", "integrity check failed"],
  0x20: ["TPM_RC_TICKET", "invalid ticket"],
  0x21: ["TPM_RC_RESERVED_BITS", "reserved bits not set to zero as required"],
  0x22: ["TPM_RC_BAD_AUTH", "authorization failure without DA implications"],
  0x23: ["TPM_RC_EXPIRED", "the policy has expired"],
  0x24: ["TPM_RC_POLICY_CC", "the commandCode in the policy is not the commandCode of the command"],
  0x25: ["TPM_RC_BINDING", "public and sensitive portions of an object are not cryptographically bound"],
  0x26: ["TPM_RC_CURVE", "curve not supported"],
  0x27: ["TPM_RC_ECC_POINT", "point is not on the required curve"],
};

const WARNINGS: Record<number, [string, string]> = {
  0x01: ["TPM_RC_CONTEXT_GAP", "gap for context ID is too large"],
  0x02: ["TPM_RC_OBJECT_MEMORY", "out of memory for object contexts"],
  0x03: ["TPM_RC_SESSION_MEMORY", "out of memory for session contexts"],
  0x04: ["TPM_RC_MEMORY", "out of shared object/session memory or need space for internal operations"],
  0x05: ["TPM_RC_SESSION_HANDLES", "out of session handles"],
  0x06: ["TPM_RC_OBJECT_HANDLES", "out of object handles"],
  0x07: ["TPM_RC_LOCALITY", "bad locality"],
  0x08: ["TPM_RC_YIELDED", "the TPM has suspended operation on the command"],
  0x09: ["TPM_RC_CANCELED", "the command was canceled"],
  0x0a: ["TPM_RC_TESTING", "TPM is performing self-tests"],
  0x20: ["TPM_RC_NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV"],
  0x21: ["TPM_RC_LOCKOUT", "authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode"],
  0x22: ["TPM_RC_RETRY", "the TPM was not able to start the command"],
  0x23: ["TPM_RC_NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible"],
};
for (let i = 0; i < 7; i++) {
  const notLoaded = "refers to a transient object or session that is not loaded";
  WARNINGS[0x10 + i] = [`TPM_RC_REFERENCE_H${i}`, `handle ${i + 1} of the handle area ${notLoaded}`];
  WARNINGS[0x18 + i] = [`TPM_RC_REFERENCE_S${i}`, `session ${i + 1} of the authorization area is not loaded`];
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
export const RETRYABLE_RESPONSE_CODES: ReadonlySet<number> = new Set([0x922, 0x908, 0x90a]);

export const RC = {
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  PCR_CHANGED: 0x128,
  AUTH_UNAVAILABLE: 0x12f,
  // format-1 bases (add parameter/handle/session bits)
  ATTRIBUTES: 0x082,
  HASH: 0x083,
  VALUE: 0x084,
  HANDLE: 0x08b,
  AUTH_FAIL: 0x08e,
  SCHEME: 0x092,
  KEY: 0x09c,
  POLICY_FAIL: 0x09d,
  INTEGRITY: 0x09f,
  TICKET: 0x0a0,
  BAD_AUTH: 0x0a2,
  BINDING: 0x0a5,
  // warnings
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  REFERENCE_H0: 0x910,
  REFERENCE_H6: 0x916,
  REFERENCE_S0: 0x918,
  REFERENCE_S6: 0x91e,
  LOCKOUT: 0x921,
} as const;

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
    const [name, description] = FORMAT1_ERRORS[e] ?? [`TPM_RC_FMT1_0x${e.toString(16)}`, "unknown format-1 error"];
    const base = 0x80 + e;
    const n = (rc >>> 8) & 0xf;
    if (rc & 0x40) return { rc, kind: "error", base, name, description, parameter: n };
    if (n & 0x8) return { rc, kind: "error", base, name, description, session: n & 0x7 };
    return n ? { rc, kind: "error", base, name, description, handle: n } : { rc, kind: "error", base, name, description };
  }
  if (!(rc & 0x100)) return { rc, kind: "tpm12", base: rc, name: `TPM 1.2 code 0x${rc.toString(16)}`, description: "not a TPM 2.0 response" };
  if (rc & 0x400) return { rc, kind: "vendor", base: rc, name: `vendor code 0x${rc.toString(16)}`, description: "vendor-defined" };
  const e = rc & 0x7f;
  if (rc & 0x800) {
    const [name, description] = WARNINGS[e] ?? [`TPM_RC_WARN_0x${e.toString(16)}`, "unknown warning"];
    return { rc, kind: "warning", base: rc & 0xfff, name, description };
  }
  const [name, description] = FORMAT0_ERRORS[e] ?? [`TPM_RC_0x${e.toString(16)}`, "unknown error"];
  return { rc, kind: "error", base: rc & 0xfff, name, description };
}

/** e.g. `TPM_RC_AUTH_FAIL (session 1, rc 0x98e): the authorization HMAC check failed…` */
export function formatResponseCode(rc: number): string {
  const d = decodeResponseCode(rc);
  const where =
    d.parameter !== undefined ? `parameter ${d.parameter}, ` : d.handle !== undefined ? `handle ${d.handle}, ` : d.session !== undefined ? `session ${d.session}, ` : "";
  return `${d.name} (${where}rc 0x${d.rc.toString(16)}): ${d.description}`;
}
