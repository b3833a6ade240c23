import { secretBytes, secretCopy } from "./secret-bytes.js";

// The well-known symbol behind util.inspect.custom, without loading node:util at start-up.
const INSPECT_CUSTOM = Symbol.for("nodejs.util.inspect.custom");

/**
 * A PIN or password held in a Buffer that can be wiped. It never prints itself: `String()`,
 * `JSON.stringify` and `util.inspect` all render `[redacted]`, so a secret cannot leak into a log by accident.
 */
export class Secret {
  #bytes: Buffer;
  #wiped = false;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromUtf8(text: string): Secret {
    const bytes = secretBytes(Buffer.byteLength(text, "utf8"));
    bytes.write(text, "utf8");
    return new Secret(bytes);
  }

  /** Takes ownership of `bytes` (they will be zeroed by `wipe()`). */
  static fromBytes(bytes: Buffer): Secret {
    return new Secret(bytes);
  }

  get length(): number {
    return this.#bytes.length;
  }

  get isEmpty(): boolean {
    return this.#bytes.length === 0;
  }

  /** Lends the raw bytes to `fn`; do not keep a reference to them. */
  use<T>(fn: (bytes: Buffer) => T): T {
    if (this.#wiped) throw new Error("secret used after it was wiped");
    return fn(this.#bytes);
  }

  /**
   * The secret as a JS string, for a library caller's API that only takes strings (the string itself cannot be
   * wiped). src/ never calls it (test/secrets/secret.test.ts): the agent's own secrets stay bytes.
   */
  reveal(): string {
    return this.use((b) => b.toString("utf8"));
  }

  clone(): Secret {
    return this.use((b) => new Secret(secretCopy(b)));
  }

  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  toString(): string {
    return "[redacted]";
  }

  toJSON(): string {
    return "[redacted]";
  }

  [INSPECT_CUSTOM](): string {
    return "Secret([redacted])";
  }
}
