/**
 * Makes a key usable on the TPM: loads a key file under its parent (the SRK re-created, or a persistent key) or
 * finds a persistent key, and starts the sessions that authorize it for the signer's lifetime.
 */
import { DeviceError } from "../../errors.js";
import type { Secret } from "../../secrets/secret.js";
import { permanentEntity, type Authorization, type Entity, type Session, type Tpm } from "../client/tpm.js";
import { withExplanation } from "../client/explain-error.js";
import type { AuthSession } from "../sessions/auth-session.js";
import { PASSWORD_SESSION } from "../sessions/password-session.js";
import { startAuthSession, type SaltKey } from "../sessions/start-session.js";
import { CreatePrimary, GetCapability, Load, ReadPublic } from "../wire/commands.js";
import {
  ECC_CURVES, handleType, hex32, isTpmHashAlg, TPMA_OBJECT, TPM_ALG, TPM_CAP, TPM_HT, TPM_RH,
} from "../wire/constants.js";
import type { TpmtPublic } from "../wire/structures.js";
import { policyUsesPassword } from "./policy.js";
import { decodePublicArea, describeKey, hasAttribute, objectName, type PublicArea } from "./public-area.js";
import { creationParams, SRK_TEMPLATE_ECC, SRK_TEMPLATE_RSA } from "./templates.js";
import type { Tss2KeyFile } from "./tss2-key-file.js";

export type KeySource = { readonly kind: "file"; readonly file: Tss2KeyFile } | { readonly kind: "handle"; readonly handle: number };

export interface LoadKeyInput {
  readonly tpm: Tpm;
  readonly source: KeySource;
  /** The key's password (empty when it has none). Only read, never kept. */
  readonly keyPassword: Secret;
  /** The parent key's or hierarchy's password (empty when it has none). */
  readonly parentPassword: Secret;
  /** How hints name the option that gives it (default the CLI's flag). */
  readonly parentOption?: string;
  /** Salted sessions with AES-CFB parameter encryption whenever a password is involved (default on). */
  readonly parameterEncryption: boolean;
  readonly what: string;
  readonly debug?: ((line: string) => void) | undefined;
}

export interface LoadedKey {
  readonly entity: Entity;
  readonly public: PublicArea;
  /** True when we loaded it (flush on close); false for persistent keys. */
  readonly transient: boolean;
  /**
   * A policy session for keys with a policy (reused, restarted before each use), else a salted HMAC session for
   * a password-protected key; absent: TPM_RS_PW.
   */
  readonly session: AuthSession | undefined;
}

async function tpmSupportsEcc(tpm: Tpm): Promise<boolean> {
  const { response } = await tpm.execute(GetCapability, {}, { capability: TPM_CAP.ALGS, property: TPM_ALG.ECC, propertyCount: 1 });
  const data = response.capabilityData;
  return data.capability === TPM_CAP.ALGS && data.algorithms[0]?.alg === TPM_ALG.ECC;
}

export async function createPrimary(
  tpm: Tpm, hierarchy: number, template: TpmtPublic, auth: Authorization, what: string, option?: string,
): Promise<SaltKey> {
  return withExplanation(tpm, { kind: "create-primary", hierarchy, option }, what, async () => {
    const handles = { primaryHandle: permanentEntity(hierarchy) };
    const { handle, response } = await tpm.execute(CreatePrimary, handles, creationParams(template), [auth]);
    return { entity: { handle, name: response.name }, public: decodePublicArea(response.outPublic, "primary key") };
  });
}

export async function readPublic(tpm: Tpm, handle: number, role: "key" | "parent", what: string): Promise<SaltKey> {
  return withExplanation(tpm, { kind: "read-public", handle, role }, what, async () => {
    const { response } = await tpm.execute(ReadPublic, { objectHandle: permanentEntity(handle) }, {});
    const area = decodePublicArea(response.outPublic, `${what} (${hex32(handle)})`);
    // Its Name is what HMAC sessions bind to: a wrong one (made up on the way) would cost a dictionary-attack strike.
    if (isTpmHashAlg(area.public.nameAlg) && !response.name.equals(objectName(area))) {
      const mismatch = `TPM2_ReadPublic of ${hex32(handle)} returned a Name that does not match its public area`;
      throw nameMismatch(what, mismatch);
    }
    return { entity: { handle, name: response.name }, public: area };
  });
}

function nameMismatch(what: string, mismatch: string): DeviceError {
  return new DeviceError("TPM_ERROR", `${what}: ${mismatch}`, {
    hint: "the answer was altered on its way to this process, or the TPM is faulty; the key was not used",
  });
}

interface SaltingOptions {
  readonly what: string;
  /** Whether the TPM has ECC (else the temporary primary is RSA), when the caller already asked; else asked here. */
  readonly ecc?: (() => Promise<boolean>) | undefined;
  readonly debug?: ((line: string) => void) | undefined;
}

/**
 * Runs `start` with a key to salt sessions to: `key` if it can (a storage key can, without its password), else a
 * temporary NULL-hierarchy primary (empty auth), flushed once `start` is done (sessions outlive their salt key).
 */
export async function withSaltKey<T>(tpm: Tpm, key: SaltKey | undefined, o: SaltingOptions, start: (salt: SaltKey) => Promise<T>): Promise<T> {
  const pub = key?.public.public;
  // An ECC key on a curve node:crypto has no ECDH for (SM2 P-256, BN P-256: some TPMs' storage keys) cannot.
  const ecdh = pub?.type === TPM_ALG.ECC && ECC_CURVES[pub.parameters.curveID] !== undefined;
  const canSalt = (ecdh || pub?.type === TPM_ALG.RSA) && hasAttribute(pub!, TPMA_OBJECT.decrypt);
  if (key && canSalt) return start(key);
  const ecc = o.ecc ? await o.ecc() : await tpmSupportsEcc(tpm);
  const temp = await createPrimary(tpm, TPM_RH.NULL, ecc ? SRK_TEMPLATE_ECC : SRK_TEMPLATE_RSA, { session: PASSWORD_SESSION }, o.what);
  o.debug?.(`TPM: created a NULL-hierarchy primary (${describeKey(temp.public.public)}) to salt sessions`);
  const result = await start(temp).catch(async (e: unknown) => {
    await tpm.flush(temp.entity.handle).catch(() => undefined);
    throw e;
  });
  await tpm.flush(temp.entity.handle);
  return result;
}

export async function startPasswordSession(tpm: Tpm, salt: SaltKey | undefined, created: number[]): Promise<AuthSession> {
  const session = await startAuthSession(tpm, { kind: "hmac", saltKey: salt, parameterEncryption: true });
  created.push(session.handle);
  return session;
}

export async function loadTpmKey(input: LoadKeyInput): Promise<LoadedKey> {
  const { tpm, source, what, debug } = input;
  // What was created on the way, flushed in reverse order if a step fails.
  let created: number[] = [];
  const release = async (handle: number) => {
    created = created.filter((h) => h !== handle);
    await tpm.flush(handle);
  };
  const policy = source.kind === "file" ? source.file.policy : [];
  const usesPolicy = policy.length > 0;
  const keySessionSalted = input.parameterEncryption && !input.keyPassword.isEmpty && (!usesPolicy || policyUsesPassword(policy));
  let eccKnown: boolean | undefined;
  const ecc = async () => (eccKnown ??= await tpmSupportsEcc(tpm));
  const salting: SaltingOptions = { what, ecc, debug };

  let keySession: AuthSession | undefined;
  /** Starts the session the key needs, if any, while `saltKey` is loaded (sessions outlive their salt key). */
  const startKeySession = async (saltKey: SaltKey | undefined) => {
    if (!usesPolicy && !keySessionSalted) return;
    const kind = usesPolicy ? "policy" : "hmac";
    const salt = keySessionSalted ? saltKey : undefined;
    keySession = await startAuthSession(tpm, { kind, saltKey: salt, parameterEncryption: keySessionSalted });
    created.push(keySession.handle);
    if (salt && keySession.salted) debug?.(`TPM: sessions salted with ${hex32(salt.entity.handle)}, AES-128-CFB parameter encryption on`);
  };

  try {
    if (source.kind === "handle") {
      const key = await readPublic(tpm, source.handle, "key", what);
      debug?.(`TPM: persistent key ${hex32(source.handle)}: ${describeKey(key.public.public)}`);
      await (keySessionSalted ? withSaltKey(tpm, undefined, salting, startKeySession) : startKeySession(undefined));
      return { entity: key.entity, public: key.public, transient: false, session: keySession };
    }

    const file = source.file;
    const needParentSession = !input.parentPassword.isEmpty && input.parameterEncryption;
    const persistentParent = handleType(file.parent) === TPM_HT.PERSISTENT;
    let parent: SaltKey;
    let parentSession: Session = PASSWORD_SESSION;
    if (persistentParent) {
      parent = await readPublic(tpm, file.parent, "parent", what);
      const startSessions = async (salt: SaltKey | undefined) => {
        if (needParentSession) parentSession = await startPasswordSession(tpm, salt, created);
        await startKeySession(salt);
      };
      await (needParentSession || keySessionSalted ? withSaltKey(tpm, parent, salting, startSessions) : startSessions(undefined));
    } else {
      // The hierarchy password authorizes CreatePrimary itself: salt that session with a NULL-hierarchy primary.
      if (needParentSession) parentSession = await withSaltKey(tpm, undefined, salting, (salt) => startPasswordSession(tpm, salt, created));
      const useRsa = file.rsaParent || !(await ecc());
      const auth = { session: parentSession, authValue: input.parentPassword };
      const template = useRsa ? SRK_TEMPLATE_RSA : SRK_TEMPLATE_ECC;
      parent = await createPrimary(tpm, file.parent, template, auth, what, input.parentOption);
      created.push(parent.entity.handle);
      debug?.(`TPM: re-created the ${useRsa ? "RSA-2048" : "ECC P-256"} SRK under ${hex32(file.parent)}`);
      await startKeySession(parent);
    }

    // The SRK we re-created has an empty authValue; a persistent parent may have a password.
    const loadAuth = { session: parentSession, authValue: persistentParent ? input.parentPassword : undefined };
    const loadOp = { kind: "load", parent: file.parent, option: input.parentOption } as const;
    const loaded = await withExplanation(tpm, loadOp, what, () =>
      tpm.execute(Load, { parentHandle: parent.entity }, { inPrivate: file.privateBlob, inPublic: file.public.bytes }, [loadAuth]),
    );
    created.push(loaded.handle);
    const expectedName = objectName(file.public);
    if (!loaded.response.name.equals(expectedName)) {
      throw nameMismatch(what, "TPM2_Load returned a Name that does not match the key file's public area");
    }
    debug?.(`TPM: loaded ${describeKey(file.public.public)} key under ${hex32(file.parent)} as ${hex32(loaded.handle)}`);

    // Only the loaded key and the key's sessions stay; parents, temporary primaries and parent sessions go.
    if (parentSession !== PASSWORD_SESSION) await release(parentSession.handle);
    if (handleType(parent.entity.handle) === TPM_HT.TRANSIENT) await release(parent.entity.handle);
    return { entity: { handle: loaded.handle, name: loaded.response.name }, public: file.public, transient: true, session: keySession };
  } catch (e) {
    for (const h of created.reverse()) await tpm.flush(h).catch(() => undefined);
    keySession?.dispose();
    throw e;
  }
}
