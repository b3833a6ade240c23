import { randomBytes } from "node:crypto";
import { permanentEntity, type Entity, type Tpm } from "../client/tpm.js";
import { StartAuthSession } from "../wire/commands.js";
import { TPM_ALG, TPM_RH, TPM_SE } from "../wire/constants.js";
import type { TpmtPublic } from "../wire/structures.js";
import { AuthSession } from "./auth-session.js";
import { kdfa } from "./kdf.js";
import { makeSalt } from "./salt.js";

/** A loaded asymmetric decryption key the session salt is encrypted to (the SRK, a persistent parent…). */
export interface SaltKey {
  readonly entity: Entity;
  readonly public: TpmtPublic;
}

export interface StartSessionOptions {
  readonly kind: "hmac" | "policy";
  /** Salt the session to this key, so that its sessionKey is unknown to anyone watching the bus. */
  readonly saltKey?: SaltKey | undefined;
  /** AES-128-CFB encryption of the first parameter in both directions (only meaningful when salted). */
  readonly parameterEncryption?: boolean;
  /** Test seam for nonces. */
  readonly random?: (size: number) => Buffer;
}

const SESSION_HASH = { alg: TPM_ALG.SHA256, name: "sha256", size: 32 } as const;

/** TPM2_StartAuthSession for an unbound SHA-256 HMAC or policy session, optionally salted. */
export async function startAuthSession(tpm: Tpm, options: StartSessionOptions): Promise<AuthSession> {
  const random = options.random ?? randomBytes;
  const nonceCaller = random(SESSION_HASH.size);
  const salt = options.saltKey ? makeSalt(options.saltKey.public) : undefined;
  const parameterEncryption = options.parameterEncryption ?? false;
  try {
    const { handle, response } = await tpm.execute(
      StartAuthSession,
      { tpmKey: options.saltKey?.entity ?? permanentEntity(TPM_RH.NULL), bind: permanentEntity(TPM_RH.NULL) },
      {
        nonceCaller,
        encryptedSalt: salt?.encryptedSalt ?? Buffer.alloc(0),
        sessionType: options.kind === "hmac" ? TPM_SE.HMAC : TPM_SE.POLICY,
        symmetric: parameterEncryption ? { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } : { algorithm: TPM_ALG.NULL },
        authHash: SESSION_HASH.alg,
      },
    );
    const sessionKey = salt ? kdfa(SESSION_HASH.name, salt.salt, "ATH", response.nonceTPM, nonceCaller, SESSION_HASH.size * 8) : Buffer.alloc(0);
    const session = new AuthSession({
      handle,
      kind: options.kind,
      hashName: SESSION_HASH.name,
      sessionKey,
      nonceTPM: response.nonceTPM,
      nonceCaller,
      parameterEncryption,
      random,
    });
    sessionKey.fill(0);
    return session;
  } finally {
    salt?.salt.fill(0);
  }
}
