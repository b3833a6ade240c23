import { constants, createECDH, publicEncrypt, randomBytes } from "node:crypto";
import { leftPadded } from "../../encoding/bytes.js";
import { InputError, isAgentError } from "../../errors.js";
import { permanentEntity, type Entity, type Tpm } from "../client/tpm.js";
import { publicKeyOf, type PublicArea } from "../keys/public-area.js";
import { encode } from "../wire/codec.js";
import { StartAuthSession } from "../wire/commands.js";
import { ECC_CURVES, hashInfo, hex32, TPM_ALG, TPM_RH, TPM_SE } from "../wire/constants.js";
import { TPMS_ECC_POINT, type TpmtPublic } from "../wire/structures.js";
import { AuthSession } from "./auth-session.js";
import { kdfa, kdfe } from "./kdf.js";
import { NAMED_CURVES } from "../../encoding/signature-encoding.js";

/** A loaded asymmetric decryption key the session salt is encrypted to (the SRK, a persistent parent…). */
export interface SaltKey {
  readonly entity: Entity;
  readonly public: PublicArea;
}

interface StartSessionOptions {
  readonly kind: "hmac" | "policy";
  /** Salt the session to this key, so that its sessionKey is unknown to anyone watching the bus. */
  readonly saltKey?: SaltKey | undefined;
  /** AES-128-CFB encryption of the first parameter in both directions (only meaningful when salted). */
  readonly parameterEncryption?: boolean;
}

const SESSION_HASH = { alg: TPM_ALG.SHA256, ...hashInfo(TPM_ALG.SHA256) };

/** TPM2_StartAuthSession for an unbound SHA-256 HMAC or policy session, optionally salted. */
export async function startAuthSession(tpm: Tpm, options: StartSessionOptions): Promise<AuthSession> {
  const nonceCaller = randomBytes(SESSION_HASH.size);
  const salt = options.saltKey ? saltFor(options.saltKey) : undefined;
  const parameterEncryption = options.parameterEncryption ?? false;
  try {
    const handles = { tpmKey: options.saltKey?.entity ?? permanentEntity(TPM_RH.NULL), bind: permanentEntity(TPM_RH.NULL) };
    const { handle, response } = await tpm.execute(StartAuthSession, handles, {
      nonceCaller,
      encryptedSalt: salt?.encryptedSalt ?? Buffer.alloc(0),
      sessionType: options.kind === "hmac" ? TPM_SE.HMAC : TPM_SE.POLICY,
      symmetric: parameterEncryption ? { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } : { algorithm: TPM_ALG.NULL },
      authHash: SESSION_HASH.alg,
    });
    const sessionKey = salt ? kdfa(SESSION_HASH.name, salt.salt, "ATH", response.nonceTPM, nonceCaller, SESSION_HASH.size * 8) : Buffer.alloc(0);
    const session = new AuthSession({
      handle,
      kind: options.kind,
      hashName: SESSION_HASH.name,
      sessionKey,
      nonceTPM: response.nonceTPM,
      nonceCaller,
      parameterEncryption,
    });
    sessionKey.fill(0);
    return session;
  } finally {
    salt?.salt.fill(0);
  }
}

/** {@link makeSalt}, its failures on a public area the TPM (or something on the way) made up named as such. */
function saltFor(key: SaltKey): { salt: Buffer; encryptedSalt: Buffer } {
  try {
    return makeSalt(key.public.public);
  } catch (cause) {
    if (isAgentError(cause)) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const what = `the TPM key ${hex32(key.entity.handle)} cannot salt a session`;
    throw new InputError("TPM_KEY_INVALID", `${what}: its public area is not usable (${reason})`, { cause });
  }
}

/**
 * A session salt only the TPM holding `tpmKey` can recover (Part 1 Annex C.6/B.10): ECC — one-pass
 * Diffie-Hellman with an ephemeral key and KDFe("SECRET"); RSA — OAEP with the label "SECRET".
 */
function makeSalt(tpmKey: TpmtPublic): { salt: Buffer; encryptedSalt: Buffer } {
  const hash = hashInfo(tpmKey.nameAlg);
  if (tpmKey.type === TPM_ALG.ECC) {
    const name = ECC_CURVES[tpmKey.parameters.curveID];
    if (!name) throw new Error(`cannot salt a session with an ECC key on curve 0x${tpmKey.parameters.curveID.toString(16)}`);
    const { fieldBytes: size, ecdhName } = NAMED_CURVES[name];
    const tpmX = leftPadded(tpmKey.unique.x, size);
    const ephemeral = createECDH(ecdhName);
    const q = ephemeral.generateKeys();
    const qx = q.subarray(1, 1 + size);
    const z = ephemeral.computeSecret(Buffer.concat([Buffer.from([4]), tpmX, leftPadded(tpmKey.unique.y, size)]));
    const salt = kdfe(hash.name, z, "SECRET", qx, tpmX, hash.size * 8);
    z.fill(0);
    return { salt, encryptedSalt: encode(TPMS_ECC_POINT, { x: qx, y: q.subarray(1 + size) }) };
  }
  if (tpmKey.type === TPM_ALG.RSA) {
    const salt = randomBytes(hash.size);
    const encryptedSalt = publicEncrypt(
      { key: publicKeyOf(tpmKey, "session salt key"), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash.name, oaepLabel: Buffer.from("SECRET\0", "latin1") },
      salt,
    );
    return { salt, encryptedSalt };
  }
  throw new Error("a session can only be salted with an RSA or ECC key");
}
