/** Fixed-width big-endian integers, as TPM structures and KDF counters write them. */
export function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A big-endian magnitude at least `size` bytes long: zero bytes added on the left (the same integer). */
export function leftPadded(bytes: Uint8Array, size: number): Buffer {
  return bytes.length >= size ? Buffer.from(bytes) : Buffer.concat([Buffer.alloc(size - bytes.length), bytes]);
}

/** A big-endian magnitude without its leading zero bytes (one zero stays for the value 0). */
export function withoutLeadingZeros(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.length - start);
}
