/** A generated private key's flags, judged against keygen's promise: sensitive, non-extractable, sign-only. */
import { CKA } from "../../pkcs11/constants.js";
import { readFlag, type TokenContext } from "../../pkcs11/objects.js";

/**
 * Each flag with the value keygen promises and the words for a key that has the other one. Protection flags must
 * be readable (`mustRead`); a usage flag the token does not know (CKA_DERIVE on an RSA key, CKA_SIGN_RECOVER on
 * some tokens) means the token offers no such use.
 */
const PROMISES = {
  token: { cka: "TOKEN", wanted: true, mustRead: true, otherwise: "not stored on the token" },
  private: { cka: "PRIVATE", wanted: true, mustRead: true, otherwise: "usable without logging in" },
  sensitive: { cka: "SENSITIVE", wanted: true, mustRead: true, otherwise: "not sensitive" },
  extractable: { cka: "EXTRACTABLE", wanted: false, mustRead: true, otherwise: "extractable" },
  alwaysSensitive: { cka: "ALWAYS_SENSITIVE", wanted: true, mustRead: false, otherwise: "not always sensitive" },
  neverExtractable: { cka: "NEVER_EXTRACTABLE", wanted: true, mustRead: false, otherwise: "was extractable" },
  sign: { cka: "SIGN", wanted: true, mustRead: true, otherwise: "cannot sign" },
  decrypt: { cka: "DECRYPT", wanted: false, mustRead: true, otherwise: "can decrypt" },
  unwrap: { cka: "UNWRAP", wanted: false, mustRead: true, otherwise: "can unwrap keys" },
  derive: { cka: "DERIVE", wanted: false, mustRead: false, otherwise: "can derive keys" },
  signRecover: { cka: "SIGN_RECOVER", wanted: false, mustRead: false, otherwise: "can sign with recovery, a raw private-key operation" },
} as const satisfies Record<string, { cka: keyof typeof CKA; wanted: boolean; mustRead: boolean; otherwise: string }>;

/** Each flag as the token reports it; undefined when the token does not know the attribute. */
export type KeyProperties = { readonly [K in keyof typeof PROMISES]: boolean | undefined };

export function readKeyProperties(context: TokenContext, handle: Buffer): KeyProperties {
  const entries = Object.entries(PROMISES).map(([name, { cka }]) => [name, readFlag(context, handle, CKA[cka])]);
  return Object.fromEntries(entries) as unknown as KeyProperties;
}

/** Everything about the key that falls short of keygen's promise, in words with the attribute that shows it. */
export function keyWeaknesses(p: KeyProperties): string[] {
  const found: string[] = [];
  for (const [name, { cka, wanted, mustRead, otherwise }] of Object.entries(PROMISES)) {
    const value = p[name as keyof KeyProperties];
    if (value === undefined && mustRead) found.push(`CKA_${cka} cannot be read back`);
    else if (value !== undefined && value !== wanted) found.push(`${otherwise} (CKA_${cka}=${String(value)})`);
  }
  return found;
}
