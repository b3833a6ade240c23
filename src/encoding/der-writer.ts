/** Tag-length-value with a definite DER length; the few places that must control exact bytes use it. */
export function derTlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}

export function derSequence(...parts: Uint8Array[]): Buffer {
  return derTlv(0x30, Buffer.concat(parts));
}

/** BIT STRING with no unused bits (signatures). */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}
