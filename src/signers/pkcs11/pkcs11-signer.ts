/**
 * A Signer over a key on a token: one session, logged in once, reused for every signature; after the token went away
 * and came back, the session is re-opened and the key found again, with the PIN re-read from its non-interactive source.
 */
import type { KeyObject } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { DeviceError, InputError, isAgentError, type AgentError } from "../../errors.js";
import { oneLineName, type Certificate } from "../../x509/certificate.js";
import type { DigestAlgorithm, Signer } from "../signer.js";
import { mismatchHint, type OptionNames } from "../options.js";
import type { ModuleLease } from "../../pkcs11/module-loader.js";
import { closeSession, findPrivateKeys, openSession, type TokenContext, type UsableKey } from "../../pkcs11/objects.js";
import { nodeHashName, signatureVerifies } from "../../encoding/signature-encoding.js";
import { proveWithoutSigning } from "./key-proof.js";
import { describeCkr, isSessionLost } from "../../pkcs11/pkcs11-errors.js";
import { loginUser, type PinSupply, type RememberedPin } from "../../pkcs11/pin.js";
import { describeToken, listTokenSlots, type TokenSlot } from "../../pkcs11/slots.js";
import { signOnToken, signingFailure, type MechanismPlan } from "../../pkcs11/token-signing.js";
import { formatPkcs11Uri } from "../../pkcs11/uri.js";
import type { Secret } from "../../secrets/secret.js";

interface Pkcs11SignerParts {
  lease: ModuleLease;
  context: TokenContext;
  key: UsableKey;
  plan: MechanismPlan;
  certificate: Certificate | undefined;
  chain: Certificate[];
  publicKey: KeyObject | undefined;
  /**
   * The certificate the key could not be proven against when the signer was built (the token shows no public
   * key for it): the first signature is checked against it before it is handed out.
   */
  unproven: Certificate | undefined;
  /** How to log in again after the token was re-inserted; undefined when the token needs no login. */
  relogin: { pin: PinSupply | undefined } | undefined;
  /** For CKA_ALWAYS_AUTHENTICATE keys: the PIN presented before every signature, already read. */
  contextPin: RememberedPin | undefined;
  /** The pin-values of the URIs it was built from (`relogin` reads them): wiped on close. */
  uriPins: readonly Secret[];
  names: OptionNames | undefined;
}

export class Pkcs11Signer implements Signer {
  readonly backend = "pkcs11" as const;
  readonly keyType: "RSA" | "EC";

  /** `key` becomes the key found again after a re-insertion, `unproven` undefined once the proof is done. */
  #parts: Pkcs11SignerParts;
  #context: TokenContext | undefined;
  /** A PIN failure: reported once, then every later call fails the same way without touching the token. */
  #fatal: AgentError | undefined;
  #closed = false;
  /** Set while the session is being re-opened. */
  #busy: Promise<void> | undefined;

  constructor(parts: Pkcs11SignerParts) {
    this.#parts = parts;
    this.#context = parts.context;
    this.keyType = parts.key.keyType;
  }

  /** The token's URI for the key in use (no PIN). */
  get keyUri(): string {
    return formatPkcs11Uri(this.#parts.key.uri);
  }

  async certificate(): Promise<Certificate | undefined> {
    return this.#parts.certificate;
  }

  async certificateChain(): Promise<Certificate[]> {
    return [...this.#parts.chain];
  }

  async publicKey(): Promise<KeyObject | undefined> {
    return this.#parts.certificate?.publicKey ?? this.#parts.publicKey;
  }

  /**
   * Signing itself is synchronous (one C_SignInit + C_Sign), so concurrent calls cannot interleave on the
   * session; only re-opening and closing are asynchronous, and calls wait for them.
   */
  async sign(message: Uint8Array, digest: DigestAlgorithm = "SHA256"): Promise<Buffer> {
    nodeHashName(digest); // a digest from plain JavaScript ("sha256", "SHA1") is refused before the token is asked
    while (this.#busy) await this.#busy;
    if (this.#fatal) throw this.#fatal;
    if (this.#closed) throw new DeviceError("PKCS11_ERROR", "the PKCS#11 signer was closed");
    const context = this.#context;
    if (context === undefined || context.generation !== this.#parts.lease.module.generation) {
      await this.#recover("the module was re-initialised");
      return this.sign(message, digest);
    }
    try {
      return this.#signOnce(message, digest);
    } catch (error) {
      if (!isSessionLost(error)) throw this.#remember(error);
      await this.#recover(describeCkr(error));
      try {
        return this.#signOnce(message, digest);
      } catch (again) {
        throw this.#remember(again);
      }
    }
  }

  async close(): Promise<void> {
    while (this.#busy) await this.#busy;
    if (this.#closed) return;
    this.#closed = true;
    if (this.#context) closeSession(this.#context);
    this.#context = undefined;
    this.#parts.contextPin?.wipe();
    for (const pin of this.#parts.uriPins) pin.wipe();
    this.#parts.lease.release();
  }

  /** Re-opens the session: sign() calls it with no await since its own checks (not busy, fatal or closed). */
  async #recover(reason: string): Promise<void> {
    const reopening = this.#reopen(reason);
    this.#busy = reopening.catch(() => undefined);
    try {
      await reopening;
    } finally {
      this.#busy = undefined;
    }
  }

  #signOnce(message: Uint8Array, digest: DigestAlgorithm): Buffer {
    try {
      const signature = signOnToken(this.#context!, this.#parts.key, this.#parts.plan, message, digest, this.#parts.contextPin);
      this.#verify(signature, message, digest); // its failure is an AgentError: thrown on as it is
      return signature;
    } catch (error) {
      if (isAgentError(error) || isSessionLost(error)) throw error;
      throw signingFailure(this.#parts.key, error);
    }
  }

  /**
   * Every signature is verified with the certificate's public key (without a certificate: the one the token shows for
   * the key) before it is handed out: a module's empty, short or zeroed signature is never sent. The first one of a
   * key not proven yet proves it.
   */
  #verify(signature: Buffer, message: Uint8Array, digest: DigestAlgorithm): void {
    const { unproven, certificate } = this.#parts;
    const key = certificate ? certificate.publicKey : this.#parts.publicKey;
    const verifies = key !== undefined && signatureVerifies(key, digest, message, signature);
    if (unproven === undefined) {
      if (key === undefined || verifies) return;
      const what = `the token's signature with ${this.keyUri} (${signature.length} bytes) does not verify`;
      const whose = certificate ? "certificate's" : "key's";
      throw new DeviceError("PKCS11_ERROR", `${what} with the ${whose} public key; it was not used`, {
        hint: "the PKCS#11 module returned a wrong signature: check the token and its module",
      });
    }
    if (!verifies) {
      const certificate = `the certificate (${oneLineName(unproven.subject)})`;
      const reason = "its signature does not verify with the certificate's public key";
      const message = `the private key ${this.keyUri} does not match ${certificate}: ${reason}`;
      throw new InputError("KEY_CERTIFICATE_MISMATCH", message, { hint: mismatchHint(this.#parts.names) });
    }
    this.#parts.unproven = undefined;
    this.#parts.context.debug?.(`pkcs11: ${this.keyUri} matches the certificate (its first signature verifies)`);
  }

  #remember(error: unknown): unknown {
    if (isAgentError(error) && (error.category === "auth" || error.code === "KEY_CERTIFICATE_MISMATCH")) this.#fatal = error;
    return isSessionLost(error) ? signingFailure(this.#parts.key, error) : error;
  }

  async #reopen(reason: string): Promise<void> {
    const { module } = this.#parts.lease;
    const { debug, slot: { token: identity } } = this.#parts.context;
    debug?.(`pkcs11: session on ${describeToken(identity)} lost (${reason}); opening a new one`);
    if (this.#context) closeSession(this.#context);
    this.#context = undefined;

    const findSlot = async (): Promise<TokenSlot | undefined> =>
      (await listTokenSlots(module, debug)).find((s) => isDeepStrictEqual(s.token, identity));
    let slot: TokenSlot | undefined;
    try {
      slot = await findSlot();
    } catch {
      /* the module failing to list its slots: re-initialising it, below, may be what helps */
    }
    if (slot === undefined) {
      module.reinitialize();
      slot = await findSlot();
    }
    if (slot === undefined) {
      throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", `${describeToken(identity)} is not present any more`, {
        hint: module.owned
          ? "re-insert the token; the next signature re-opens it"
          : "re-insert the token; the application initialised this module: one that rescans only in C_Initialize " +
            "(SoftHSM) sees it again once the application initialises it again",
      });
    }
    const context = openSession(module, slot, debug);
    try {
      if (this.#parts.relogin) {
        await loginUser(context, this.#parts.relogin.pin).catch((error: unknown) => {
          throw this.#remember(error);
        });
      }
      this.#parts.key = this.#findKeyAgain(context);
    } catch (error) {
      closeSession(context);
      throw error;
    }
    this.#context = context;
    debug?.(`pkcs11: re-opened ${describeToken(identity)}`);
  }

  /** The key with the same id, label and public key: one put in its place (an EC key shows no modulus) is not it. */
  #findKeyAgain(context: TokenContext): UsableKey {
    const { key: before, certificate } = this.#parts;
    const same = findPrivateKeys(context, { id: before.id.length > 0 ? before.id : undefined, label: before.label || undefined }).filter(
      (k) =>
        k.keyType === before.keyType &&
        isDeepStrictEqual(k.modulus, before.modulus) &&
        isDeepStrictEqual(k.ecParams, before.ecParams) &&
        (certificate === undefined || proveWithoutSigning(context, k, certificate).result !== "mismatch"),
    );
    if (same.length !== 1) {
      throw new InputError("PKCS11_OBJECT_NOT_FOUND", `the key ${formatPkcs11Uri(before.uri)} is no longer on ${describeToken(context.slot.token)} after it was re-inserted`);
    }
    return same[0] as UsableKey;
  }
}
