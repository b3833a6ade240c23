import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { TPMA_SESSION } from "../wire/constants.js";
import type { TpmsAuthCommand, TpmsAuthResponse } from "../wire/structures.js";
import { kdfa } from "./kdf.js";
import type { AnyCommand } from "../wire/commands.js";
import type { Session } from "../client/tpm.js";
import { secretConcat, secretCopy } from "../../secrets/secret-bytes.js";

/** What a policy session currently asks of the authorization field, after PolicyAuthValue/PolicyPassword. */
type PolicyAuthMode = "none" | "authValue" | "password";

export class SessionIntegrityError extends Error {
  override readonly name = "SessionIntegrityError";
}

interface AuthSessionState {
  readonly handle: number;
  readonly kind: "hmac" | "policy";
  /** node:crypto name of the session's authHash (sha256). */
  readonly hashName: string;
  /** Empty for an unsalted, unbound session. */
  readonly sessionKey: Buffer;
  readonly nonceTPM: Buffer;
  readonly nonceCaller: Buffer;
  /** AES-128-CFB parameter encryption (decrypt/encrypt attributes) on every command that allows it. */
  readonly parameterEncryption: boolean;
  /** Test seam: the caller nonce generator. */
  readonly random?: (size: number) => Buffer;
}

/**
 * An HMAC or policy session (Part 1 §19): rolling nonces, command and response HMACs, and AES-CFB
 * encryption of the first parameter. Without a salt the sessionKey is empty and only the password protects
 * the HMAC, so sessions that carry passwords are always salted by their creator.
 */
export class AuthSession implements Session {
  readonly handle: number;
  readonly kind: "hmac" | "policy";
  readonly hashName: string;
  readonly #sessionKey: Buffer;
  readonly #parameterEncryption: boolean;
  readonly #random: (size: number) => Buffer;
  #nonceTPM: Buffer;
  #nonceCaller: Buffer;
  #attributes = TPMA_SESSION.continueSession as number;
  #closed = false;
  encryptsCommand = false;
  encryptsResponse = false;
  /** Set by the policy runner; the TPM resets it after every successful use of the session. */
  policyMode: PolicyAuthMode = "none";

  constructor(state: AuthSessionState) {
    this.handle = state.handle;
    this.kind = state.kind;
    this.hashName = state.hashName;
    this.#sessionKey = secretCopy(state.sessionKey);
    this.#nonceTPM = Buffer.from(state.nonceTPM);
    this.#nonceCaller = Buffer.from(state.nonceCaller);
    this.#parameterEncryption = state.parameterEncryption;
    this.#random = state.random ?? randomBytes;
  }

  get salted(): boolean {
    return this.#sessionKey.length > 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  begin(command: Pick<AnyCommand, "firstParamIsSized" | "firstResponseParamIsSized">): void {
    if (this.#closed) throw new Error(`session 0x${this.handle.toString(16)} is closed`);
    this.#nonceCaller = this.#random(this.#nonceCaller.length);
    this.encryptsCommand = this.#parameterEncryption && command.firstParamIsSized;
    this.encryptsResponse = this.#parameterEncryption && command.firstResponseParamIsSized;
    this.#attributes =
      TPMA_SESSION.continueSession |
      (this.encryptsCommand ? TPMA_SESSION.decrypt : 0) |
      (this.encryptsResponse ? TPMA_SESSION.encrypt : 0);
  }

  #hmacKey(authValue: Buffer): Buffer {
    if (this.kind === "policy" && this.policyMode === "none") return secretCopy(this.#sessionKey); // a copy: callers wipe it
    return secretConcat([this.#sessionKey, authValue]);
  }

  #hmac(key: Buffer, ...parts: Buffer[]): Buffer {
    return parts.reduce((h, p) => h.update(p), createHmac(this.hashName, key)).digest();
  }

  commandAuth(cpHash: Buffer | undefined, authValue: Buffer): TpmsAuthCommand {
    const attrs = Buffer.from([this.#attributes]);
    let hmac: Buffer;
    if (this.kind === "policy" && this.policyMode === "password") {
      // PolicyPassword: the TPM compares the field with the authValue, like TPM_RS_PW.
      hmac = secretCopy(authValue);
    } else {
      const key = this.#hmacKey(authValue);
      // With no key at all the TPM accepts an empty HMAC (unsalted policy session without PolicyAuthValue).
      hmac = key.length === 0 ? Buffer.alloc(0) : this.#hmac(key, cpHash!, this.#nonceCaller, this.#nonceTPM, attrs);
      key.fill(0);
    }
    return { sessionHandle: this.handle, nonce: Buffer.from(this.#nonceCaller), sessionAttributes: this.#attributes, hmac };
  }

  acceptResponse(rpHash: Buffer | undefined, auth: TpmsAuthResponse, authValue: Buffer): void {
    const nonceTPM = auth.nonce;
    if (!(this.kind === "policy" && this.policyMode === "password")) {
      const key = this.#hmacKey(authValue);
      const acceptEmpty = key.length === 0 && auth.hmac.length === 0;
      const wanted = acceptEmpty ? undefined : this.#hmac(key, rpHash!, nonceTPM, this.#nonceCaller, Buffer.from([auth.sessionAttributes]));
      key.fill(0);
      if (wanted && (wanted.length !== auth.hmac.length || !timingSafeEqual(wanted, auth.hmac))) {
        throw new SessionIntegrityError("the TPM's response HMAC does not match: the response was altered on its way");
      }
    }
    this.#nonceTPM = Buffer.from(nonceTPM);
    if (this.kind === "policy") this.policyMode = "none";
    if (!(auth.sessionAttributes & TPMA_SESSION.continueSession)) this.#closed = true;
  }

  /**
   * AES-128-CFB of the first parameter in place, key and IV from KDFa(sessionKey ‖ authValue, "CFB", nonceNewer,
   * nonceOlder). A response is decrypted after acceptResponse, so #nonceTPM is then already the TPM's new nonce.
   */
  cfb(direction: "command" | "response", data: Buffer, encryptionAuth: Buffer): void {
    const command = direction === "command";
    const material = secretConcat([this.#sessionKey, encryptionAuth]);
    const [newer, older] = command ? [this.#nonceCaller, this.#nonceTPM] : [this.#nonceTPM, this.#nonceCaller];
    const keyIv = kdfa(this.hashName, material, "CFB", newer, older, 256);
    material.fill(0);
    const [key, iv] = [keyIv.subarray(0, 16), keyIv.subarray(16, 32)];
    const c = command ? createCipheriv("aes-128-cfb", key, iv) : createDecipheriv("aes-128-cfb", key, iv);
    keyIv.fill(0);
    const out = secretConcat([c.update(data), c.final()]); // a parameter's plaintext: a key's sensitive part, a password
    out.copy(data);
    out.fill(0);
  }

  /** Forgets the session (after FlushContext, or when the TPM closed it). */
  dispose(): void {
    this.#closed = true;
    this.#sessionKey.fill(0);
  }
}
