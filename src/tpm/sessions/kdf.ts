/** The TPM's KDFs (Part 1 §11.4.10): KDFa (SP 800-108, HMAC) for session and CFB keys, KDFe (SP 800-56A) for ECC salts. */
import { createHash, createHmac } from "node:crypto";
import { u32be as u32 } from "../../encoding/bytes.js";

/** The label as a C string: its bytes and a terminating zero octet. */
function labelBytes(label: string): Buffer {
  return Buffer.concat([Buffer.from(label, "latin1"), Buffer.from([0])]);
}

function truncate(out: Buffer, bits: number): Buffer {
  const bytes = Math.ceil(bits / 8);
  const result = Buffer.from(out.subarray(0, bytes));
  if (bits % 8) result[0]! &= (1 << bits % 8) - 1;
  out.fill(0);
  return result;
}

export function kdfa(hash: string, key: Uint8Array, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const chunks: Buffer[] = [];
  let have = 0;
  const fixed = Buffer.concat([labelBytes(label), contextU, contextV, u32(bits)]);
  for (let i = 1; have * 8 < bits; i++) {
    const block = createHmac(hash, key).update(u32(i)).update(fixed).digest();
    chunks.push(block);
    have += block.length;
  }
  return truncate(Buffer.concat(chunks), bits);
}

export function kdfe(hash: string, z: Uint8Array, label: string, partyU: Uint8Array, partyV: Uint8Array, bits: number): Buffer {
  const chunks: Buffer[] = [];
  let have = 0;
  const other = Buffer.concat([labelBytes(label), partyU, partyV]);
  for (let i = 1; have * 8 < bits; i++) {
    const block = createHash(hash).update(u32(i)).update(z).update(other).digest();
    chunks.push(block);
    have += block.length;
  }
  return truncate(Buffer.concat(chunks), bits);
}
