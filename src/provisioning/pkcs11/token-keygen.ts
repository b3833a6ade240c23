import { randomBytes, type KeyObject } from "node:crypto";
import { InputError, UsageError } from "../../errors.js";
import { findPrivateKeys, publicKeyOf } from "../../pkcs11/objects.js";
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "../../pkcs11/uri.js";
import { generateTokenKeyPair } from "./generate-key-pair.js";
import type { KeySpec } from "./key-spec.js";
import { withTokenSession } from "../../pkcs11/token-session.js";
import type { TokenSessionOptions } from "../../pkcs11/token-session-options.js";

export interface TokenKeygenOptions extends Omit<TokenSessionOptions, "uri"> {
  /** Token (and optionally `id=` / `object=`) to create the key on. */
  readonly uri: string;
  readonly spec: KeySpec;
  /** CKA_ID; default: the URI's `id`, else 8 random bytes. */
  readonly id?: Buffer | undefined;
  /** CKA_LABEL; default: the URI's `object`. */
  readonly label?: string | undefined;
}

export interface TokenKeygenResult {
  /** Names the key pair and, after install-certificate, its certificate: use it for --private-key and --certificate. */
  readonly uri: string;
  readonly publicKey: KeyObject | undefined;
}

export async function generateKeyOnToken(opts: TokenKeygenOptions): Promise<TokenKeygenResult> {
  const uri = parsePkcs11Uri(opts.uri);
  if (uri.type !== undefined && uri.type !== "private") {
    throw new UsageError("USAGE", `keygen creates key pairs; drop type=${uri.type} from the URI`);
  }
  const label = opts.label ?? uri.object;
  if (!label) throw new UsageError("USAGE", "the new key needs a label", { hint: "add object=<label> to the URI or pass --label" });
  const id = opts.id ?? uri.id ?? randomBytes(8);
  if (id.length === 0) throw new UsageError("USAGE", "the key id may not be empty");
  return withTokenSession({ ...opts, uri }, (context) => {
    generateTokenKeyPair(context, { spec: opts.spec, id, label });
    const [key] = findPrivateKeys(context, { id, label });
    if (!key) throw new InputError("PKCS11_OBJECT_NOT_FOUND", "the generated key cannot be found on the token");
    return { uri: formatPkcs11Uri(keyUri(context.slot.token, id, label)), publicKey: publicKeyOf(context, key) };
  });
}

/** token, serial, id and object: enough to find the key and its certificate, short enough to type. */
export function keyUri(token: { label: string; serial: string }, id: Buffer, label: string): Pkcs11Uri {
  return { token: token.label, ...(token.serial ? { serial: token.serial } : {}), id, object: label };
}
