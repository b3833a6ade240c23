import type { Authorization, Entity, Tpm } from "../../../tpm/client/tpm.js";
import { TPM_RH, TPM_ST } from "../../../tpm/wire/constants.js";

/** What a signature scheme needs: the loaded key on its TPM, and one authorized command with it. */
export interface TpmSigningKey {
  readonly tpm: Tpm;
  readonly entity: Entity;
  /** `TPM key file …` or `TPM key 0x81…`, for messages. */
  readonly what: string;
  /** Runs one command with the key's authorization; a refusal is explained. */
  authorized<T>(command: (auth: Authorization) => Promise<T>): Promise<T>;
}

/** TPM2_Sign's validation ticket for an unrestricted key: none. */
export const NULL_TICKET = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };

/** Left-most bytes when longer (what ECDSA uses anyway), zero-padded on the left when shorter (same integer). */
export function fitDigest(digest: Buffer, size: number): Buffer {
  if (digest.length >= size) return digest.subarray(0, size);
  return Buffer.concat([Buffer.alloc(size - digest.length), digest]);
}
