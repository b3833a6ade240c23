import { createHash } from "node:crypto";
import { DeviceError, UsageError } from "../../errors.js";
import { isPlainObject, type Kind } from "../../own-value.js";
import type { Tpm } from "../../tpm/client/tpm.js";
import type { PolicyStatement } from "../../tpm/keys/policy.js";
import { PCR_Read } from "../../tpm/wire/commands.js";
import { TPM_ALG } from "../../tpm/wire/constants.js";
import type { TpmsPcrSelection } from "../../tpm/wire/structures.js";

/** A PCR selection the user typed: one bank and its PCR indexes (`sha256:0,7`). */
export interface PcrRequest {
  readonly bank: "sha1" | "sha256" | "sha384" | "sha512";
  readonly pcrs: readonly number[];
}

const BANKS = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 } as const;
// TPM2_PCR_Read returns at most 8 digests per call (TPML_DIGEST); one call keeps this simple.
const MAX_PCRS = 8;
/** A {@link PcrRequest} built in plain JavaScript: a bank and 1 to 8 PCR numbers 0-23. */
export const PCR_REQUEST: Kind = [
  (r) => isPlainObject(r) && typeof r["bank"] === "string" && Object.hasOwn(BANKS, r["bank"]) &&
    Array.isArray(r["pcrs"]) && r["pcrs"].length > 0 && r["pcrs"].length <= MAX_PCRS &&
    r["pcrs"].every((p) => Number.isInteger(p) && p >= 0 && p <= 23),
  '{ bank: "sha256" (or sha1, sha384, sha512), pcrs: 1 to 8 PCR numbers 0-23 }',
];

/** Parses `sha256:0,7,16` (bank optional: sha256). */
export function parsePcrRequest(text: string): PcrRequest {
  const [bankText, list] = text.includes(":") ? text.split(":", 2) as [string, string] : ["sha256", text];
  const bank = bankText.toLowerCase() as PcrRequest["bank"];
  if (!Object.hasOwn(BANKS, bank)) throw new UsageError("USAGE", `--tpm-pcr: unknown PCR bank "${bankText}"`, { hint: "use sha256:0,7 (or sha1/sha384/sha512)" });
  const pcrs = list.split(",").map((p) => p.trim());
  if (pcrs.length === 0 || pcrs.some((p) => !/^\d+$/.test(p) || Number(p) > 23)) {
    throw new UsageError("USAGE", `--tpm-pcr: "${list}" is not a list of PCR numbers 0-23`, { hint: "e.g. sha256:0,7" });
  }
  const unique = [...new Set(pcrs.map(Number))].sort((a, b) => a - b);
  if (unique.length > MAX_PCRS) throw new UsageError("USAGE", `--tpm-pcr: at most ${MAX_PCRS} PCRs`);
  return { bank, pcrs: unique };
}

export function pcrSelection(request: PcrRequest): TpmsPcrSelection {
  const select = Buffer.alloc(3);
  for (const pcr of request.pcrs) select[pcr >> 3]! |= 1 << (pcr & 7);
  return { hash: BANKS[request.bank], pcrSelect: select };
}

/**
 * TPM2_PolicyPCR bound to the PCRs' current values: pcrDigest = H_policy(PCR values in index order), where
 * H_policy is the key's name algorithm (SHA-256). The TPM compares the same digest at each use.
 */
export async function currentPcrPolicy(tpm: Tpm, request: PcrRequest): Promise<PolicyStatement> {
  const selection = pcrSelection(request);
  const { response } = await tpm.execute(PCR_Read, {}, { pcrSelectionIn: [selection] });
  const out = response.pcrSelectionOut[0];
  if (response.pcrSelectionOut.length !== 1 || !out || !out.pcrSelect.equals(selection.pcrSelect) || response.pcrValues.length !== request.pcrs.length) {
    throw new DeviceError("TPM_ERROR", `the TPM has no ${request.bank} bank for PCR ${request.pcrs.join(",")}`, {
      hint: "choose an allocated PCR bank (tpm2_getcap pcrs lists them)",
    });
  }
  const pcrDigest = createHash("sha256").update(Buffer.concat(response.pcrValues)).digest();
  return { command: "PolicyPCR", pcrs: [selection], pcrDigest };
}
