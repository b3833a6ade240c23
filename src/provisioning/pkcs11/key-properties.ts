/**
 * A generated private key's flags, read one attribute at a time (a module that does not know one fails the whole
 * C_GetAttributeValue otherwise), judged against keygen's promise: sensitive, non-extractable, sign-only.
 */
import { CKA } from "../../pkcs11/constants.js";
import { readFlag, type TokenContext } from "../../pkcs11/objects.js";

const ATTRIBUTES = {
  token: CKA.TOKEN,
  private: CKA.PRIVATE,
  sensitive: CKA.SENSITIVE,
  extractable: CKA.EXTRACTABLE,
  alwaysSensitive: CKA.ALWAYS_SENSITIVE,
  neverExtractable: CKA.NEVER_EXTRACTABLE,
  sign: CKA.SIGN,
  decrypt: CKA.DECRYPT,
  unwrap: CKA.UNWRAP,
  derive: CKA.DERIVE,
  signRecover: CKA.SIGN_RECOVER,
} as const;

/** Each flag as the token reports it; undefined when the token does not know the attribute. */
export type KeyProperties = { readonly [K in keyof typeof ATTRIBUTES]: boolean | undefined };

export function readKeyProperties(context: TokenContext, handle: Buffer): KeyProperties {
  const entries = Object.entries(ATTRIBUTES).map(([name, type]) => [name, readFlag(context, handle, type)]);
  return Object.fromEntries(entries) as unknown as KeyProperties;
}

/**
 * Everything about the key that falls short of "sensitive, non-extractable, sign-only token object", in
 * words with the attribute that shows it. Protection flags must be readable; a usage flag the token does not
 * know (CKA_DERIVE on an RSA key, CKA_SIGN_RECOVER on some tokens) means the token offers no such use.
 */
export function keyWeaknesses(p: KeyProperties): string[] {
  const found: string[] = [];
  const must = (value: boolean | undefined, wanted: boolean, attribute: string, what: string) => {
    if (value === undefined) found.push(`${attribute} cannot be read back`);
    else if (value !== wanted) found.push(`${what} (${attribute}=${String(value)})`);
  };
  must(p.token, true, "CKA_TOKEN", "not stored on the token");
  must(p.private, true, "CKA_PRIVATE", "usable without logging in");
  must(p.sensitive, true, "CKA_SENSITIVE", "not sensitive");
  must(p.extractable, false, "CKA_EXTRACTABLE", "extractable");
  if (p.alwaysSensitive === false) found.push("not always sensitive (CKA_ALWAYS_SENSITIVE=false)");
  if (p.neverExtractable === false) found.push("was extractable (CKA_NEVER_EXTRACTABLE=false)");
  must(p.sign, true, "CKA_SIGN", "cannot sign");
  must(p.decrypt, false, "CKA_DECRYPT", "can decrypt");
  must(p.unwrap, false, "CKA_UNWRAP", "can unwrap keys");
  if (p.derive === true) found.push("can derive keys (CKA_DERIVE=true)");
  if (p.signRecover === true) found.push("can sign with recovery, a raw private-key operation (CKA_SIGN_RECOVER=true)");
  return found;
}
