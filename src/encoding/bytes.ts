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
