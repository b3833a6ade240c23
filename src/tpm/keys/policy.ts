/**
 * Policy statements of a TSS2 key file (`policy [1]`, bodies as openssl_tpm2_engine writes them) and their
 * policy digest (Part 1 "PolicyUpdate"), checked against the key's authPolicy before touching the TPM.
 */
import { createHash } from "node:crypto";
import { InputError } from "../../errors.js";
import { decode, encode, struct, tpm2b, TpmWireError, u32, type Codec } from "../wire/codec.js";
import { hashInfo, hex32, isTpmHashAlg, TPM_CC } from "../wire/constants.js";
import { TPML_PCR_SELECTION, type TpmsPcrSelection } from "../wire/structures.js";

export type PolicyStatement =
  | { readonly command: "PolicyPCR"; readonly pcrs: TpmsPcrSelection[]; readonly pcrDigest: Buffer }
  | { readonly command: "PolicyAuthValue" }
  | { readonly command: "PolicyPassword" }
  | { readonly command: "PolicyCommandCode"; readonly code: number }
  | { readonly command: "PolicyLocality"; readonly locality: number };

const UNSUPPORTED: Readonly<Record<number, string>> = {
  [TPM_CC.PolicySecret]: "TPM2_PolicySecret",
  [TPM_CC.PolicyAuthorize]: "TPM2_PolicyAuthorize",
  [TPM_CC.PolicyOR]: "TPM2_PolicyOR",
  [TPM_CC.PolicyCounterTimer]: "TPM2_PolicyCounterTimer",
};

const rest: Codec<Buffer> = { write: (w, v) => void w.bytes(v), read: (r) => r.bytes(r.remaining) };
const PCR_LAYOUTS = [struct({ pcrs: TPML_PCR_SELECTION, pcrDigest: rest }), struct({ pcrDigest: tpm2b, pcrs: TPML_PCR_SELECTION })];

/**
 * Decodes one `TPMPolicy` entry. PolicyPCR is stored as TPML_PCR_SELECTION ‖ raw pcrDigest (the order of
 * the policy hash, as openssl_tpm2_engine writes it); the command order (TPM2B digest ‖ selection) is
 * accepted too.
 */
export function decodePolicyStatement(commandCode: number, body: Buffer, digestSize: number, what: string): PolicyStatement {
  const fail = (detail: string) => new InputError("TPM_KEY_INVALID", `${what}: invalid ${detail} in the key's policy`);
  switch (commandCode) {
    case TPM_CC.PolicyAuthValue:
      return { command: "PolicyAuthValue" };
    case TPM_CC.PolicyPassword:
      return { command: "PolicyPassword" };
    case TPM_CC.PolicyCommandCode:
      if (body.length !== 4) throw fail("PolicyCommandCode statement");
      return { command: "PolicyCommandCode", code: body.readUInt32BE(0) };
    case TPM_CC.PolicyLocality:
      if (body.length !== 1) throw fail("PolicyLocality statement");
      return { command: "PolicyLocality", locality: body[0]! };
    case TPM_CC.PolicyPCR:
      for (const layout of PCR_LAYOUTS) {
        try {
          const { pcrs, pcrDigest } = decode(layout, body, "PolicyPCR");
          if (pcrDigest.length === digestSize) return { command: "PolicyPCR", pcrs, pcrDigest };
        } catch (e) {
          if (!(e instanceof TpmWireError)) throw e;
        }
      }
      throw fail("PolicyPCR statement");
    default: {
      const name = UNSUPPORTED[commandCode] ?? `command ${hex32(commandCode)}`;
      throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: the key's policy uses ${name}, which this agent cannot satisfy`, {
        hint: "supported policy statements: PolicyPCR, PolicyAuthValue, PolicyPassword, PolicyCommandCode, PolicyLocality",
      });
    }
  }
}

/** Whether the statements authorize with the key's password (PolicyAuthValue or PolicyPassword). */
export function policyUsesPassword(statements: readonly PolicyStatement[]): boolean {
  return statements.some((s) => s.command === "PolicyAuthValue" || s.command === "PolicyPassword");
}

/**
 * One statement as a key file stores it: command code and commandPolicy body (PolicyPCR as
 * TPML_PCR_SELECTION ‖ pcrDigest, openssl_tpm2_engine's layout). The policy digest extends with the same bytes.
 */
export function encodePolicyStatement(s: PolicyStatement): { readonly code: number; readonly body: Buffer } {
  switch (s.command) {
    case "PolicyPCR":
      return { code: TPM_CC.PolicyPCR, body: encode(PCR_LAYOUTS[0]!, s) };
    case "PolicyAuthValue":
      return { code: TPM_CC.PolicyAuthValue, body: Buffer.alloc(0) };
    case "PolicyPassword":
      return { code: TPM_CC.PolicyPassword, body: Buffer.alloc(0) };
    case "PolicyCommandCode":
      return { code: TPM_CC.PolicyCommandCode, body: encode(u32, s.code) };
    case "PolicyLocality":
      return { code: TPM_CC.PolicyLocality, body: Buffer.from([s.locality]) };
  }
}

/** The policy digest the statements produce, starting from zeros (what the key's authPolicy must equal). */
export function computePolicyDigest(statements: readonly PolicyStatement[], hashName: string): Buffer {
  let digest = Buffer.alloc(createHash(hashName).digest().length);
  for (const s of statements) {
    const { code, body } = encodePolicyStatement(s);
    // PolicyPassword deliberately extends with the PolicyAuthValue code (Part 3, TPM2_PolicyPassword).
    const extendCode = s.command === "PolicyPassword" ? TPM_CC.PolicyAuthValue : code;
    digest = createHash(hashName).update(digest).update(encode(u32, extendCode)).update(body).digest();
  }
  return digest;
}

/** "PCR 16 (sha256)" style description of a PCR selection, for messages. */
export function describePcrSelection(pcrs: readonly TpmsPcrSelection[]): string {
  return pcrs
    .map((sel) => {
      const indexes: number[] = [];
      sel.pcrSelect.forEach((byte, i) => {
        for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) indexes.push(i * 8 + bit);
      });
      return `PCR ${indexes.join(",")} (${isTpmHashAlg(sel.hash) ? hashInfo(sel.hash).name : `alg 0x${sel.hash.toString(16)}`})`;
    })
    .join(" + ");
}
