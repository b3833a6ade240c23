/**
 * Policy statements of a TSS2 key file (`policy [1]`, bodies as openssl_tpm2_engine writes them) and their
 * policy digest (Part 1 "PolicyUpdate"), checked against the key's authPolicy before touching the TPM.
 */
import { createHash } from "node:crypto";
import { InputError } from "../../errors.js";
import { ownValue } from "../../own-value.js";
import { decode, encode, struct, TpmWireError, u32, type Codec } from "../wire/codec.js";
import { PolicyAuthValue, PolicyCommandCode, PolicyLocality, PolicyPassword, PolicyPCR } from "../wire/commands.js";
import { hashInfo, hex32, isTpmHashAlg } from "../wire/constants.js";
import { TPML_PCR_SELECTION, type TpmsPcrSelection } from "../wire/structures.js";

export type PolicyStatement =
  | { readonly command: "PolicyPCR"; readonly pcrs: TpmsPcrSelection[]; readonly pcrDigest: Buffer }
  | { readonly command: "PolicyAuthValue" }
  | { readonly command: "PolicyPassword" }
  | { readonly command: "PolicyCommandCode"; readonly code: number }
  | { readonly command: "PolicyLocality"; readonly locality: number };

/** The commands a statement names; a statement's body is its command's parameters (PolicyPCR aside, below). */
export const POLICY_COMMANDS = { PolicyPCR, PolicyAuthValue, PolicyPassword, PolicyCommandCode, PolicyLocality };
type PolicyCommand = keyof typeof POLICY_COMMANDS;

/** Policy commands that key files may hold but this agent cannot satisfy, by TPM_CC code (named in the error). */
const UNSUPPORTED: Readonly<Record<number, string>> = {
  0x151: "PolicySecret",
  0x16a: "PolicyAuthorize",
  0x16d: "PolicyCounterTimer",
  0x171: "PolicyOR",
};

const rest: Codec<Buffer> = { write: (w, v) => void w.bytes(v), read: (r) => r.bytes(r.remaining) };
const PCR_LAYOUTS = [struct({ pcrs: TPML_PCR_SELECTION, pcrDigest: rest }), PolicyPCR.params];

/**
 * Decodes one `TPMPolicy` entry. PolicyPCR is stored as TPML_PCR_SELECTION ‖ raw pcrDigest (the order of
 * the policy hash, as openssl_tpm2_engine writes it); the command order (TPM2B digest ‖ selection) is
 * accepted too.
 */
export function decodePolicyStatement(commandCode: number, body: Buffer, digestSize: number, what: string): PolicyStatement {
  const command = (Object.keys(POLICY_COMMANDS) as PolicyCommand[]).find((name) => POLICY_COMMANDS[name].code === commandCode);
  if (!command) {
    const unsupported = ownValue(UNSUPPORTED, commandCode);
    const name = unsupported ? `TPM2_${unsupported}` : `command ${hex32(commandCode)}`;
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: the key's policy uses ${name}, which this agent cannot satisfy`, {
      hint: "supported policy statements: PolicyPCR, PolicyAuthValue, PolicyPassword, PolicyCommandCode, PolicyLocality",
    });
  }
  // These have no parameters: a body, which no producer writes, is ignored.
  if (command === "PolicyAuthValue" || command === "PolicyPassword") return { command };
  for (const layout of command === "PolicyPCR" ? PCR_LAYOUTS : [POLICY_COMMANDS[command].params]) {
    try {
      const fields = decode<Record<string, unknown>>(layout, body, command);
      const statement = { command, ...fields } as PolicyStatement;
      if (statement.command !== "PolicyPCR" || statement.pcrDigest.length === digestSize) return statement;
    } catch (e) {
      if (!(e instanceof TpmWireError)) throw e;
    }
  }
  throw new InputError("TPM_KEY_INVALID", `${what}: invalid ${command} statement in the key's policy`);
}

export function policyUsesPassword(statements: readonly PolicyStatement[]): boolean {
  return statements.some((s) => s.command === "PolicyAuthValue" || s.command === "PolicyPassword");
}

/** One statement as a key file stores it; the policy digest extends with the same bytes. */
export function encodePolicyStatement(s: PolicyStatement): { readonly code: number; readonly body: Buffer } {
  const layout = s.command === "PolicyPCR" ? PCR_LAYOUTS[0]! : POLICY_COMMANDS[s.command].params;
  return { code: POLICY_COMMANDS[s.command].code, body: encode(layout as Codec<unknown>, s) };
}

/** The policy digest the statements produce, starting from zeros (what the key's authPolicy must equal). */
export function computePolicyDigest(statements: readonly PolicyStatement[], hashName: string): Buffer {
  let digest = Buffer.alloc(createHash(hashName).digest().length);
  for (const s of statements) {
    const { code, body } = encodePolicyStatement(s);
    // PolicyPassword deliberately extends with the PolicyAuthValue code (Part 3, TPM2_PolicyPassword).
    const extendCode = s.command === "PolicyPassword" ? PolicyAuthValue.code : code;
    digest = createHash(hashName).update(digest).update(encode(u32, extendCode)).update(body).digest();
  }
  return digest;
}

/** "PCR 16 (sha256)" style description of a PCR selection, for messages. */
export function describePcrSelection(pcrs: readonly TpmsPcrSelection[]): string {
  return pcrs
    .map((sel) => {
      const indexes = Array.from({ length: sel.pcrSelect.length * 8 }, (_, n) => n).filter((n) => sel.pcrSelect[n >> 3]! & (1 << (n & 7)));
      return `PCR ${indexes.join(",")} (${isTpmHashAlg(sel.hash) ? hashInfo(sel.hash).name : `alg 0x${sel.hash.toString(16)}`})`;
    })
    .join(" + ");
}
