/**
 * TPM 2.0 commands, declared as data (Part 3): name, TPM_CC code, handle area (`@` marks a handle that needs an
 * authorization), parameters and response. `Tpm.execute` marshals any of them.
 */
import { struct, tpm2b, u16, u32, u8, type Codec, type Fields, type StructValue } from "./codec.js";
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

export interface CommandDefinition<H extends string, P extends Fields, R extends Fields> {
  readonly name: string;
  readonly code: number;
  /** Handle area, in order, without the `@`. */
  readonly handles: readonly H[];
  readonly authHandleCount: number;
  readonly params: Codec<StructValue<P>>;
  /** True when the response carries a handle before its parameters (CreatePrimary, Load, StartAuthSession). */
  readonly responseHandle: boolean;
  readonly response: Codec<StructValue<R>>;
  /** Parameter encryption is possible only when the first parameter is a sized buffer. */
  readonly firstParamIsSized: boolean;
  readonly firstResponseParamIsSized: boolean;
}

export type AnyCommand = CommandDefinition<string, Fields, Fields>;
export type ParamsOf<C> = C extends CommandDefinition<any, infer P, any> ? StructValue<P> : never;
export type ResponseOf<C> = C extends CommandDefinition<any, any, infer R> ? StructValue<R> : never;
export type HandleNamesOf<C> = C extends CommandDefinition<infer H, any, any> ? H : never;
type HandleName<S extends string> = S extends `@${infer N}` ? N : S;

const isSized = (codec: Codec<unknown> | undefined) => codec?.sized === true;

function command<const H extends readonly string[], P extends Fields, R extends Fields>(
  name: string,
  code: number,
  handles: H,
  params: P,
  response: R,
  responseHandle = false,
): CommandDefinition<HandleName<H[number]>, P, R> {
  return {
    name: `TPM2_${name}`,
    code,
    handles: handles.map((h) => h.replace(/^@/, "") as HandleName<H[number]>),
    authHandleCount: handles.filter((h) => h.startsWith("@")).length,
    params: struct(params),
    responseHandle,
    response: struct(response),
    firstParamIsSized: isSized(Object.values(params)[0]),
    firstResponseParamIsSized: isSized(Object.values(response)[0]),
  };
}

const createParams = { inSensitive: TPM2B_SENSITIVE_CREATE, inPublic: TPM2B_PUBLIC, outsideInfo: tpm2b, creationPCR: TPML_PCR_SELECTION };
const creation = { creationData: tpm2b, creationHash: tpm2b, creationTicket: TPMT_TK_CREATION };

export const Startup = command("Startup", 0x144, [], { startupType: u16 }, {});
const capabilityParams = { capability: u32, property: u32, propertyCount: u32 };
export const GetCapability = command("GetCapability", 0x17a, [], capabilityParams, { moreData: u8, capabilityData: TPMS_CAPABILITY_DATA });
export const GetRandom = command("GetRandom", 0x17b, [], { bytesRequested: u16 }, { randomBytes: tpm2b });
/** resetCount and restartCount change whenever the TPM was reset or restarted. */
const clock = { timeHigh: u32, timeLow: u32, clockHigh: u32, clockLow: u32, resetCount: u32, restartCount: u32, safe: u8 };
export const ReadClock = command("ReadClock", 0x181, [], {}, clock);
// outPublic (and Create's outPrivate) are kept as bytes: a Name hashes exactly these bytes, and key files store them as returned.
const primary = { outPublic: tpm2b, ...creation, name: tpm2b };
export const CreatePrimary = command("CreatePrimary", 0x131, ["@primaryHandle"], createParams, primary, true);
export const Create = command("Create", 0x153, ["@parentHandle"], createParams, { outPrivate: tpm2b, outPublic: tpm2b, ...creation });
// Both are passed verbatim from the key file (TPM2B_PRIVATE is opaque; TPM2B_PUBLIC must not be re-encoded).
export const Load = command("Load", 0x157, ["@parentHandle"], { inPrivate: tpm2b, inPublic: tpm2b }, { name: tpm2b }, true);
export const ReadPublic = command("ReadPublic", 0x173, ["objectHandle"], {}, { outPublic: tpm2b, name: tpm2b, qualifiedName: tpm2b });
const signParams = { digest: tpm2b, inScheme: TPMT_SIG_SCHEME, validation: TPMT_TK_HASHCHECK };
export const Sign = command("Sign", 0x15d, ["@keyHandle"], signParams, { signature: TPMT_SIGNATURE });
const decryptParams = { cipherText: tpm2b, inScheme: TPMT_RSA_DECRYPT, label: tpm2b };
export const RSA_Decrypt = command("RSA_Decrypt", 0x159, ["@keyHandle"], decryptParams, { message: tpm2b });
export const FlushContext = command("FlushContext", 0x165, [], { flushHandle: u32 }, {});
export const EvictControl = command("EvictControl", 0x120, ["@auth", "objectHandle"], { persistentHandle: u32 }, {});
const sessionParams = { nonceCaller: tpm2b, encryptedSalt: tpm2b, sessionType: u8, symmetric: TPMT_SYM_DEF, authHash: u16 };
export const StartAuthSession = command("StartAuthSession", 0x176, ["tpmKey", "bind"], sessionParams, { nonceTPM: tpm2b }, true);
export const PolicyPCR = command("PolicyPCR", 0x17f, ["policySession"], { pcrDigest: tpm2b, pcrs: TPML_PCR_SELECTION }, {});
export const PolicyAuthValue = command("PolicyAuthValue", 0x16b, ["policySession"], {}, {});
export const PolicyPassword = command("PolicyPassword", 0x18c, ["policySession"], {}, {});
export const PolicyCommandCode = command("PolicyCommandCode", 0x16c, ["policySession"], { code: u32 }, {});
export const PolicyLocality = command("PolicyLocality", 0x16f, ["policySession"], { locality: u8 }, {});
export const PolicyGetDigest = command("PolicyGetDigest", 0x189, ["policySession"], {}, { policyDigest: tpm2b });
export const PolicyRestart = command("PolicyRestart", 0x180, ["sessionHandle"], {}, {});
const pcrValues = { pcrUpdateCounter: u32, pcrSelectionOut: TPML_PCR_SELECTION, pcrValues: TPML_DIGEST };
export const PCR_Read = command("PCR_Read", 0x17e, [], { pcrSelectionIn: TPML_PCR_SELECTION }, pcrValues);
