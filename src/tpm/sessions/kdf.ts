/**
 * The TPM's KDFs (Part 1 §11.4.10): KDFa (SP 800-108, HMAC) for session and CFB keys, KDFe (SP 800-56A) for ECC
 * salts. Labels are C strings: their bytes and a terminating zero octet.
 */
import { createHash, createHmac } from "node:crypto";
import { encode, u32 } from "../wire/codec.js";
import { secretConcat, secretCopy } from "../../secrets/secret-bytes.js";

/** Counter mode: block(1) ‖ block(2) ‖ … cut to `bits` (the excess high bits of the first octet cleared). */
function counterMode(bits: number, block: (counter: Buffer) => Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 1, have = 0; have * 8 < bits; i++) {
    const next = block(encode(u32, i));
    chunks.push(next);
    have += next.length;
  }
  const out = secretConcat(chunks);
  for (const chunk of chunks) chunk.fill(0);
  const result = secretCopy(out.subarray(0, Math.ceil(bits / 8)));
  if (bits % 8) result[0]! &= (1 << bits % 8) - 1;
  out.fill(0);
  return result;
}

export function kdfa(hash: string, key: Uint8Array, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const fixed = Buffer.concat([Buffer.from(`${label}\0`, "latin1"), contextU, contextV, encode(u32, bits)]);
  return counterMode(bits, (counter) => createHmac(hash, key).update(counter).update(fixed).digest());
}

export function kdfe(hash: string, z: Uint8Array, label: string, partyU: Uint8Array, partyV: Uint8Array, bits: number): Buffer {
  const other = Buffer.concat([Buffer.from(`${label}\0`, "latin1"), partyU, partyV]);
  return counterMode(bits, (counter) => createHash(hash).update(counter).update(z).update(other).digest());
}
