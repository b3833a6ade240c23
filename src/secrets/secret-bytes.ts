/**
 * The one home for bytes that hold a secret (a PIN, a password, a KDF's block, a session key).
 *
 * Over an ArrayBuffer of their own, never `Buffer.alloc`/`Buffer.from`: those of 64 bytes or fewer live in V8's heap,
 * where a garbage collection moves them and leaves the old copy unwiped (an agent's memory held a password after
 * fill(0): native-test/secret-in-memory-file-key.test.ts); larger ones of `Buffer.from`/`concat` share Node's 8 KiB
 * pool with unrelated data. An ArrayBuffer's backing store is allocated outside V8's heap and never moves, so
 * `fill(0)` wipes the only copy.
 */
export function secretBytes(length: number): Buffer {
  return Buffer.from(new ArrayBuffer(length));
}

/**
 * Whether `bytes` already sit as secret bytes would: the whole of an ArrayBuffer of their own, longer than the 64 bytes
 * V8 keeps in its heap (a pooled Buffer's ArrayBuffer is Node's 8 KiB pool). Such bytes can be held as they are: a
 * 16 MiB secret file is then not copied again.
 */
export function ownsItsStore(bytes: Uint8Array): boolean {
  return bytes.length > 64 && bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length && bytes.buffer instanceof ArrayBuffer;
}

/** A copy of `bytes` (or of an array of byte values) in secret bytes (see secretBytes); the caller wipes both. */
export function secretCopy(bytes: Uint8Array | readonly number[]): Buffer {
  const out = secretBytes(bytes.length);
  out.set(bytes);
  return out;
}

/** The buffers joined into secret bytes (Buffer.concat's would be pooled); the caller wipes the parts and the result. */
export function secretConcat(parts: readonly Uint8Array[]): Buffer {
  const out = secretBytes(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
