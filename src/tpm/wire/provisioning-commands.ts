/**
 * The commands that create keys (TPM2_Create) and make them persistent (TPM2_EvictControl), declared as
 * data like those in commands.ts (Part 3 §12.1, §28.5). Only `keygen` uses them.
 */
import { struct, tpm2b, u32, type Codec, type Fields } from "./codec.js";
import type { CommandDefinition, HandleRole } from "./commands.js";
import { TPM_CC } from "./constants.js";
import { TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPML_PCR_SELECTION, TPMT_TK_CREATION } from "./structures.js";

// Same shape as commands.ts's (module-private) defineCommand.
function declare<H extends Record<string, HandleRole>, P extends Fields, R extends Fields>(spec: {
  name: string;
  code: number;
  handles: H;
  params: P;
  response: R;
}): CommandDefinition<H, P, R> {
  const sized = (c: Codec<unknown> | undefined) => c?.kind === "tpm2b" || c?.kind === "sized";
  return {
    name: spec.name,
    code: spec.code,
    handles: spec.handles,
    params: struct(spec.params),
    responseHandle: false,
    response: struct(spec.response),
    firstParamIsSized: sized(Object.values(spec.params)[0]),
    firstResponseParamIsSized: sized(Object.values(spec.response)[0]),
    authHandleCount: Object.values(spec.handles).filter((r) => r === "auth").length,
  };
}

export const Create = declare({
  name: "TPM2_Create",
  code: TPM_CC.Create,
  handles: { parentHandle: "auth" },
  params: { inSensitive: TPM2B_SENSITIVE_CREATE, inPublic: TPM2B_PUBLIC, outsideInfo: tpm2b, creationPCR: TPML_PCR_SELECTION },
  // outPrivate and outPublic are kept as bytes: they go into the key file exactly as the TPM returned them.
  response: { outPrivate: tpm2b, outPublic: tpm2b, creationData: tpm2b, creationHash: tpm2b, creationTicket: TPMT_TK_CREATION },
});

export const EvictControl = declare({
  name: "TPM2_EvictControl",
  code: TPM_CC.EvictControl,
  handles: { auth: "auth", objectHandle: "noauth" },
  params: { persistentHandle: u32 },
  response: {},
});
