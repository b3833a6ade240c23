/**
 * A token's identity (CK_TOKEN_INFO's label, manufacturer, model, serial), apart from the slots that list it: the
 * library's declarations reach it (token-keygen) without reaching pkcs11js's.
 */

/**
 * What identifies a token across removal and re-insertion (the slot id may change, these do not). The text as pkcs11js
 * decodes it (U+FFFD for a byte that is not UTF-8); `bytes`, read by raa_native, only when a field's bytes are not
 * UTF-8 or hold U+FFFD (EF BF BD, the token's own then): they, not the text, are the token's (what a URI selects and names it by, what a listing shows).
 */
export interface TokenIdentity {
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly serial: string;
  readonly bytes?: TokenFieldBytes;
}

export type TokenFieldName = "label" | "manufacturer" | "model" | "serial";
/** The four fields' bytes, unpadded as module-loader.ts's `unpad` unpads their text. */
export type TokenFieldBytes = Readonly<Record<TokenFieldName, Buffer>>;

/** A token field's bytes: those raa_native read when they are not UTF-8, else its text's (what tells tokens apart). */
export function fieldBytes(token: TokenIdentity, field: TokenFieldName): Buffer {
  return token.bytes?.[field] ?? Buffer.from(token[field], "utf8");
}
