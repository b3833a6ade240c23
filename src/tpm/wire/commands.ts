/**
 * TPM 2.0 commands, declared as data: handles (and whether each needs an authorization), parameters and
 * response. `Tpm.execute` marshals any of them; adding a command is a few declarative lines.
 */
import { TPM_CC } from "./constants.js";
import { struct, tpm2b, u16, u32, u8, type Codec, type Fields, type StructCodec, type StructValue } from "./codec.js";
import {
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE_CREATE,
  TPML_DIGEST,
  TPML_PCR_SELECTION,
  TPMS_CAPABILITY_DATA,
  TPMT_RSA_DECRYPT,
  TPMT_SIG_SCHEME,
  TPMT_SIGNATURE,
  TPMT_SYM_DEF,
  TPMT_TK_CREATION,
  TPMT_TK_HASHCHECK,
} from "./structures.js";

/** Whether a handle in the handle area needs an authorization session (`@` in Part 3). */
export type HandleRole = "auth" | "noauth";

export interface CommandDefinition<H extends Record<string, HandleRole>, P extends Fields, R extends Fields> {
  readonly name: string;
  readonly code: number;
  /** Handle area, in order. */
  readonly handles: H;
  readonly params: StructCodec<P>;
  /** True when the response carries a handle before its parameters (CreatePrimary, Load, StartAuthSession). */
  readonly responseHandle: boolean;
  readonly response: StructCodec<R>;
  /** Parameter encryption is possible only when the first parameter is a sized buffer. */
  readonly firstParamIsSized: boolean;
  readonly firstResponseParamIsSized: boolean;
  readonly authHandleCount: number;
}

export type AnyCommand = CommandDefinition<Record<string, HandleRole>, Fields, Fields>;
export type ParamsOf<C> = C extends CommandDefinition<any, infer P, any> ? StructValue<P> : never;
export type ResponseOf<C> = C extends CommandDefinition<any, any, infer R> ? StructValue<R> : never;
export type HandleNamesOf<C> = C extends CommandDefinition<infer H, any, any> ? keyof H : never;

function isSized(codec: Codec<unknown> | undefined): boolean {
  return codec?.kind === "tpm2b" || codec?.kind === "sized";
}

function defineCommand<H extends Record<string, HandleRole>, P extends Fields, R extends Fields>(spec: {
  name: string;
  code: number;
  handles: H;
  params: P;
  responseHandle?: boolean;
  response: R;
}): CommandDefinition<H, P, R> {
  return {
    name: spec.name,
    code: spec.code,
    handles: spec.handles,
    params: struct(spec.params),
    responseHandle: spec.responseHandle ?? false,
    response: struct(spec.response),
    firstParamIsSized: isSized(Object.values(spec.params)[0]),
    firstResponseParamIsSized: isSized(Object.values(spec.response)[0]),
    authHandleCount: Object.values(spec.handles).filter((r) => r === "auth").length,
  };
}

const none = {} as const;

export const Startup = defineCommand({ name: "TPM2_Startup", code: TPM_CC.Startup, handles: none, params: { startupType: u16 }, response: none });

export const GetCapability = defineCommand({
  name: "TPM2_GetCapability",
  code: TPM_CC.GetCapability,
  handles: none,
  params: { capability: u32, property: u32, propertyCount: u32 },
  response: { moreData: u8, capabilityData: TPMS_CAPABILITY_DATA },
});

export const GetRandom = defineCommand({
  name: "TPM2_GetRandom",
  code: TPM_CC.GetRandom,
  handles: none,
  params: { bytesRequested: u16 },
  response: { randomBytes: tpm2b },
});

/** TPM2_ReadClock: resetCount and restartCount change whenever the TPM was reset or restarted. */
export const ReadClock = defineCommand({
  name: "TPM2_ReadClock",
  code: TPM_CC.ReadClock,
  handles: none,
  params: {},
  response: { timeHigh: u32, timeLow: u32, clockHigh: u32, clockLow: u32, resetCount: u32, restartCount: u32, safe: u8 },
});

export const CreatePrimary = defineCommand({
  name: "TPM2_CreatePrimary",
  code: TPM_CC.CreatePrimary,
  handles: { primaryHandle: "auth" },
  params: { inSensitive: TPM2B_SENSITIVE_CREATE, inPublic: TPM2B_PUBLIC, outsideInfo: tpm2b, creationPCR: TPML_PCR_SELECTION },
  responseHandle: true,
  // outPublic is kept as bytes: the object's Name is a hash of exactly these bytes.
  response: { outPublic: tpm2b, creationData: tpm2b, creationHash: tpm2b, creationTicket: TPMT_TK_CREATION, name: tpm2b },
});

/** TPM2_Create: a new key under a loaded parent (keygen). */
export const Create = defineCommand({
  name: "TPM2_Create",
  code: TPM_CC.Create,
  handles: { parentHandle: "auth" },
  params: { inSensitive: TPM2B_SENSITIVE_CREATE, inPublic: TPM2B_PUBLIC, outsideInfo: tpm2b, creationPCR: TPML_PCR_SELECTION },
  // outPrivate and outPublic are kept as bytes: they go into the key file exactly as the TPM returned them.
  response: { outPrivate: tpm2b, outPublic: tpm2b, creationData: tpm2b, creationHash: tpm2b, creationTicket: TPMT_TK_CREATION },
});

export const Load = defineCommand({
  name: "TPM2_Load",
  code: TPM_CC.Load,
  handles: { parentHandle: "auth" },
  // Both are passed verbatim from the key file (TPM2B_PRIVATE is opaque; TPM2B_PUBLIC must not be re-encoded).
  params: { inPrivate: tpm2b, inPublic: tpm2b },
  responseHandle: true,
  response: { name: tpm2b },
});

export const ReadPublic = defineCommand({
  name: "TPM2_ReadPublic",
  code: TPM_CC.ReadPublic,
  handles: { objectHandle: "noauth" },
  params: none,
  response: { outPublic: tpm2b, name: tpm2b, qualifiedName: tpm2b },
});

export const Sign = defineCommand({
  name: "TPM2_Sign",
  code: TPM_CC.Sign,
  handles: { keyHandle: "auth" },
  params: { digest: tpm2b, inScheme: TPMT_SIG_SCHEME, validation: TPMT_TK_HASHCHECK },
  response: { signature: TPMT_SIGNATURE },
});

export const RSA_Decrypt = defineCommand({
  name: "TPM2_RSA_Decrypt",
  code: TPM_CC.RSA_Decrypt,
  handles: { keyHandle: "auth" },
  params: { cipherText: tpm2b, inScheme: TPMT_RSA_DECRYPT, label: tpm2b },
  response: { message: tpm2b },
});

export const FlushContext = defineCommand({
  name: "TPM2_FlushContext",
  code: TPM_CC.FlushContext,
  handles: none,
  params: { flushHandle: u32 },
  response: none,
});

/** TPM2_EvictControl: makes a loaded key persistent at an owner handle (keygen). */
export const EvictControl = defineCommand({
  name: "TPM2_EvictControl",
  code: TPM_CC.EvictControl,
  handles: { auth: "auth", objectHandle: "noauth" },
  params: { persistentHandle: u32 },
  response: none,
});

export const StartAuthSession = defineCommand({
  name: "TPM2_StartAuthSession",
  code: TPM_CC.StartAuthSession,
  handles: { tpmKey: "noauth", bind: "noauth" },
  params: { nonceCaller: tpm2b, encryptedSalt: tpm2b, sessionType: u8, symmetric: TPMT_SYM_DEF, authHash: u16 },
  responseHandle: true,
  response: { nonceTPM: tpm2b },
});

export const PolicyPCR = defineCommand({
  name: "TPM2_PolicyPCR",
  code: TPM_CC.PolicyPCR,
  handles: { policySession: "noauth" },
  params: { pcrDigest: tpm2b, pcrs: TPML_PCR_SELECTION },
  response: none,
});

export const PolicyAuthValue = defineCommand({
  name: "TPM2_PolicyAuthValue",
  code: TPM_CC.PolicyAuthValue,
  handles: { policySession: "noauth" },
  params: none,
  response: none,
});

export const PolicyPassword = defineCommand({
  name: "TPM2_PolicyPassword",
  code: TPM_CC.PolicyPassword,
  handles: { policySession: "noauth" },
  params: none,
  response: none,
});

export const PolicyCommandCode = defineCommand({
  name: "TPM2_PolicyCommandCode",
  code: TPM_CC.PolicyCommandCode,
  handles: { policySession: "noauth" },
  params: { code: u32 },
  response: none,
});

export const PolicyLocality = defineCommand({
  name: "TPM2_PolicyLocality",
  code: TPM_CC.PolicyLocality,
  handles: { policySession: "noauth" },
  params: { locality: u8 },
  response: none,
});

export const PolicyRestart = defineCommand({
  name: "TPM2_PolicyRestart",
  code: TPM_CC.PolicyRestart,
  handles: { sessionHandle: "noauth" },
  params: none,
  response: none,
});

export const PolicyGetDigest = defineCommand({
  name: "TPM2_PolicyGetDigest",
  code: TPM_CC.PolicyGetDigest,
  handles: { policySession: "noauth" },
  params: none,
  response: { policyDigest: tpm2b },
});

export const PCR_Read = defineCommand({
  name: "TPM2_PCR_Read",
  code: TPM_CC.PCR_Read,
  handles: none,
  params: { pcrSelectionIn: TPML_PCR_SELECTION },
  response: { pcrUpdateCounter: u32, pcrSelectionOut: TPML_PCR_SELECTION, pcrValues: TPML_DIGEST },
});
