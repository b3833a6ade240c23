/** ECDSA (r, s) from the TPM (big-endian, possibly shorter than the curve size) → DER SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaSignatureToDer(r: Uint8Array, s: Uint8Array): Buffer {
  const int = (v: Uint8Array): Buffer => {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    let body = Buffer.from(v.subarray(i));
    if (body.length === 0) body = Buffer.from([0]);
    if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
    return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
  };
  const content = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLength(content.length), content]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
