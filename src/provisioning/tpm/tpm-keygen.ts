/**
 * `keygen` on a TPM 2.0: a signing key under the owner's standard ECC SRK or a persistent parent, saved as a TSS2
 * PRIVATE KEY file or made persistent. The private part only leaves the TPM wrapped by the parent.
 */
import type { KeyObject } from "node:crypto";
import { AuthError, DeviceError, InputError, UsageError } from "../../errors.js";
import { describeSecretSource, readSecret, SECRET_SOURCE, type SecretSource } from "../../secrets/secret-source.js";
import { Secret } from "../../secrets/secret.js";
import { dropFailures, type DebugLog } from "../../debug-log.js";
import { permanentEntity, Tpm, type Authorization } from "../../tpm/client/tpm.js";
import { TpmResponseError } from "../../tpm/client/tpm-error.js";
import { computePolicyDigest, type PolicyStatement } from "../../tpm/keys/policy.js";
import { createPrimary, readPublic, startPasswordSession, withSaltKey } from "../../tpm/keys/load-key.js";
import { decodePublicArea, hasAttribute, objectName, publicKeyOf } from "../../tpm/keys/public-area.js";
import { creationParams, signingKeyTemplate, SRK_TEMPLATE_ECC } from "../../tpm/keys/templates.js";
import { withExplanation } from "../../tpm/client/explain-error.js";
import { PASSWORD_SESSION } from "../../tpm/sessions/password-session.js";
import type { SaltKey } from "../../tpm/sessions/start-session.js";
import type { AuthSession } from "../../tpm/sessions/auth-session.js";
import { openTpmTransport } from "../../tpm/transport/open-transport.js";
import { Create, EvictControl, Load, ReadPublic } from "../../tpm/wire/commands.js";
import { handleType, hex32, TPMA_OBJECT, TPM_HT, TPM_RH } from "../../tpm/wire/constants.js";
import { RC } from "../../tpm/wire/response-code.js";
import { checkOutputFile, writeOutputFile } from "../output-file.js";
import { KEY_SPEC, type KeySpec } from "../key-spec.js";
import { ENVIRONMENT, isPlainObject, type Kinds } from "../../own-value.js";
import { currentPcrPolicy, PCR_REQUEST, type PcrRequest } from "./pcr-policy.js";
import { encodeTss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { optionName, refuseWrongOptions, type OptionNames } from "../../signers/options.js";

export type TpmKeyTarget = { readonly kind: "file"; readonly path: string; readonly overwrite: boolean } | { readonly kind: "handle"; readonly handle: number };

export interface TpmKeygenOptions {
  readonly target: TpmKeyTarget;
  readonly spec: KeySpec;
  /** `--tpm-device` (else TPM_DEVICE, else /dev/tpmrm0). */
  readonly device?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** The new key's password (none: the key needs no password). */
  readonly keyPassword?: SecretSource | undefined;
  /** The owner hierarchy's password, or the persistent parent's. */
  readonly parentPassword?: SecretSource | undefined;
  /** The owner hierarchy's password for EvictControl (`handle:`) under a persistent parent. */
  readonly ownerPassword?: SecretSource | undefined;
  /** 0x40000001 (default) or a persistent storage key 0x81…. */
  readonly parent?: number | undefined;
  /** Bind the key to these PCRs' current values. */
  readonly pcr?: PcrRequest | undefined;
  readonly debug?: DebugLog | undefined;
  /** How errors name these options: `"flags"` (default), the CLI's; `"options"`, these fields. */
  readonly names?: OptionNames | undefined;
}

export interface TpmKeygenResult {
  /** What to pass as --private-key: the file path or `handle:0x81…`. */
  readonly reference: string;
  readonly publicKey: KeyObject;
  readonly policy: readonly PolicyStatement[];
}

/** The checks that need no TPM (handle ranges, flags that go together, an existing key file): keygen makes them first. */
export async function checkTpmKeygen(opts: TpmKeygenOptions): Promise<void> {
  const parentHandle = opts.parent ?? TPM_RH.OWNER;
  const [parent, parentPassword] = [optionName(opts.names, "parent"), optionName(opts.names, "parentPassword")];
  if (parentHandle !== TPM_RH.OWNER && handleType(parentHandle) !== TPM_HT.PERSISTENT) {
    const message = `${parent} ${hex32(parentHandle)}: use 0x40000001 (owner hierarchy) or a persistent key 0x81…`;
    throw new InputError("TPM_KEY_INVALID", message);
  }
  if (opts.ownerPassword && (opts.target.kind === "file" || parentHandle === TPM_RH.OWNER)) {
    const hint = `under the owner hierarchy, ${parentPassword} is the owner's`;
    const message = `${optionName(opts.names, "ownerPassword")} is for a handle:… key under a persistent ${parent}`;
    throw new UsageError("USAGE", message, { hint });
  }
  if (opts.target.kind === "handle") {
    if (handleType(opts.target.handle) !== TPM_HT.PERSISTENT || opts.target.handle >= 0x81800000) {
      const message = `handle:${hex32(opts.target.handle)} is not an owner persistent handle (0x81000000-0x817fffff)`;
      throw new InputError("TPM_KEY_INVALID", message);
    }
    if (opts.pcr) {
      throw new UsageError("USAGE", "a PCR-bound key needs its policy at every use: save it as a TSS2 key file, not as a persistent handle");
    }
  } else {
    const force = optionName(opts.names, "target.overwrite");
    await checkOutputFile("TPM key file", opts.target.path, opts.target.overwrite, force);
  }
}

const isHandle = (h: unknown) => Number.isInteger(h) && (h as number) >= 0 && (h as number) <= 0xffffffff;
/** {@link TpmKeygenOptions}' types, for callers in plain JavaScript (password sources before the TPM is reached). */
const KEYGEN_KINDS: Kinds = {
  target: [
    (t) => isPlainObject(t) &&
      (t["kind"] === "handle" ? isHandle(t["handle"]) : t["kind"] === "file" && typeof t["path"] === "string"),
    '{ kind: "file", path, overwrite } or { kind: "handle", handle }',
  ],
  spec: KEY_SPEC, device: "string", env: ENVIRONMENT, parent: [isHandle, "a TPM handle (0 to 0xffffffff)"],
  pcr: PCR_REQUEST, debug: "function",
  keyPassword: SECRET_SOURCE, parentPassword: SECRET_SOURCE, ownerPassword: SECRET_SOURCE,
};

export async function generateTpmKey(given: TpmKeygenOptions): Promise<TpmKeygenResult> {
  refuseWrongOptions("generateTpmKey", given, KEYGEN_KINDS, ["target", "spec"]);
  const opts = { ...given, debug: dropFailures(given.debug) };
  await checkTpmKeygen(opts);
  const parentHandle = opts.parent ?? TPM_RH.OWNER;
  const read = async (source: SecretSource | undefined, what: string) =>
    source ? readSecret(source, what, process.env) : Secret.fromUtf8("");
  const keyPassword = await read(opts.keyPassword, "new TPM key password");
  if (opts.keyPassword && keyPassword.isEmpty) {
    // An empty variable or file (a script's unset "$PW") would make a key without a password, without a word.
    throw new InputError("PASSWORD_REQUIRED", `the new TPM key password from ${describeSecretSource(opts.keyPassword)} is empty`, {
      hint: "give the password, or leave the password option out for a key without one",
    });
  }
  const parentPassword = await read(opts.parentPassword, "TPM parent password");
  const ownerPassword = parentHandle === TPM_RH.OWNER ? parentPassword : await read(opts.ownerPassword, "TPM owner password");
  const option = (o: Parameters<typeof optionName>[1]) => optionName(opts.names, o);
  const transport = await openTpmTransport(opts.device, opts.env, option("device"));
  const tpm = new Tpm(transport, { debug: opts.debug });
  const toFlush: number[] = [];
  let session: AuthSession | undefined;
  /**
   * TPM_RS_PW for an empty password (unless `encrypt`: a sensitive parameter travels); otherwise one salted HMAC
   * session with parameter encryption, started on first need, salted to `saltKey` or to a temporary primary.
   */
  const authorize = async (password: Secret, saltKey?: SaltKey, encrypt = false): Promise<Authorization> => {
    if (password.isEmpty && !encrypt) return { session: PASSWORD_SESSION };
    session ??= await withSaltKey(tpm, saltKey, { what: "keygen", debug: opts.debug }, (salt) => startPasswordSession(tpm, salt, toFlush));
    return { session, authValue: password };
  };
  try {
    opts.debug?.(`TPM: using ${transport.description}`);
    if (opts.target.kind === "handle") await requireFreeHandle(tpm, opts.target.handle);
    const parent = await openParent(tpm, parentHandle, () => authorize(parentPassword), option("parentPassword"));
    if (parentHandle === TPM_RH.OWNER) toFlush.push(parent.entity.handle);
    // The SRK itself has an empty password; the hierarchy's was only needed to create it.
    const parentAuthValue = parentHandle === TPM_RH.OWNER ? Secret.fromUtf8("") : parentPassword;

    const policy: PolicyStatement[] = [];
    if (opts.pcr) policy.push(await currentPcrPolicy(tpm, opts.pcr));
    if (opts.pcr && !keyPassword.isEmpty) policy.push({ command: "PolicyAuthValue" });
    const template = signingKeyTemplate(opts.spec, policy.length > 0 ? computePolicyDigest(policy, "sha256") : undefined);

    // The new key's password travels in TPM2B_SENSITIVE_CREATE: encrypt it.
    const createAuth = await authorize(parentAuthValue, parent, !keyPassword.isEmpty);
    const userAuth = keyPassword.use((b) => Buffer.from(b));
    const created = await run("creating the key", option("parentPassword"), () =>
      tpm.execute(Create, { parentHandle: parent.entity }, creationParams(template, userAuth), [createAuth]),
    ).finally(() => userAuth.fill(0));
    const { outPrivate: privateBlob, outPublic } = created.response;
    const area = decodePublicArea(outPublic, "generated TPM key");
    const publicKey = publicKeyOf(area.public, "generated TPM key");
    opts.debug?.(`TPM: created ${opts.spec.name} key under ${hex32(parentHandle)}`);

    if (opts.target.kind === "file") {
      const pem = encodeTss2KeyFile({ parent: parentHandle, public: area, privateBlob, emptyAuth: keyPassword.isEmpty, policy });
      const { path, overwrite } = opts.target;
      const force = option("target.overwrite");
      await writeOutputFile(path, pem, { what: "TPM key file", overwrite, mode: 0o600, force });
      return { reference: opts.target.path, publicKey, policy };
    }

    const loadAuth = await authorize(parentAuthValue, parent);
    const loadOp = { kind: "load", parent: parentHandle, option: option("parentPassword") } as const;
    const loaded = await withExplanation(tpm, loadOp, "generated TPM key", () =>
      tpm.execute(Load, { parentHandle: parent.entity }, { inPrivate: privateBlob, inPublic: outPublic }, [loadAuth]),
    );
    toFlush.push(loaded.handle);
    const evictAuth = await authorize(ownerPassword, parent);
    const { handle } = opts.target;
    const ownerFlag = option(parentHandle === TPM_RH.OWNER ? "parentPassword" : "ownerPassword");
    const handles = { auth: permanentEntity(TPM_RH.OWNER), objectHandle: { handle: loaded.handle, name: objectName(area) } };
    await run(`making the key persistent at ${hex32(handle)}`, ownerFlag, () =>
      tpm.execute(EvictControl, handles, { persistentHandle: handle }, [evictAuth]),
    );
    return { reference: `handle:${hex32(handle)}`, publicKey, policy };
  } finally {
    for (const handle of toFlush.reverse()) await tpm.flush(handle).catch(() => undefined);
    keyPassword.wipe();
    parentPassword.wipe();
    ownerPassword.wipe();
    await transport.close().catch(() => undefined);
  }
}

/** A persistent storage key, or the owner hierarchy's standard ECC SRK, created with the hierarchy's authorization. */
async function openParent(tpm: Tpm, handle: number, ownerAuth: () => Promise<Authorization>, option: string)
  : Promise<SaltKey> {
  if (handle === TPM_RH.OWNER) return createPrimary(tpm, handle, SRK_TEMPLATE_ECC, await ownerAuth(), "keygen", option);
  const parent = await readPublic(tpm, handle, "parent", "keygen");
  if (!hasAttribute(parent.public.public, TPMA_OBJECT.restricted) || !hasAttribute(parent.public.public, TPMA_OBJECT.decrypt)) {
    throw new InputError("TPM_KEY_INVALID", `${hex32(handle)} is not a storage key (restricted decrypt), so it cannot be a parent`);
  }
  return parent;
}

async function requireFreeHandle(tpm: Tpm, handle: number): Promise<void> {
  try {
    await tpm.execute(ReadPublic, { objectHandle: permanentEntity(handle) }, {});
  } catch (e) {
    if (e instanceof TpmResponseError && (e.is(RC.HANDLE) || e.is(RC.VALUE))) return;
    throw e;
  }
  throw new InputError("OBJECT_EXISTS", `the TPM already has a persistent object at ${hex32(handle)}`, {
    hint: "choose a free handle (tpm2_getcap handles-persistent lists the used ones); keygen never replaces a key",
  });
}

/** Runs one step; authorization (naming `passwordFlag`) and capacity failures become errors a user can act on. */
async function run<T>(step: string, passwordFlag: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof TpmResponseError)) throw e;
    if (e.is(RC.AUTH_FAIL) || e.is(RC.BAD_AUTH)) {
      throw new AuthError("TPM_AUTH_FAILED", `${step}: the TPM refused the parent or owner password (${e.decoded.name})`, {
        cause: e,
        hint: `give it with ${passwordFlag}; it is not retried`,
      });
    }
    if (e.decoded.name === "TPM_RC_NV_SPACE") {
      throw new DeviceError("TPM_ERROR", `${step}: the TPM has no room for another persistent object`, { cause: e, hint: "use a TSS2 key file instead" });
    }
    throw new DeviceError("TPM_ERROR", `${step} failed: ${e.message}`, { cause: e });
  }
}
