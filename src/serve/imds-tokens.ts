import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";

const MAX_TTL_SECONDS = 21600;
// 75 bytes, 100 base64 characters (aws_signing_helper's length): expiry in ms (6), random (37), HMAC-SHA256 (32).
const SIGNED = 43;
const BASE64_100 = /^[A-Za-z0-9+/]{100}$/;

type TokenCheck = { readonly ok: true; readonly remainingSeconds: number } | { readonly ok: false; readonly reason: "missing" | "invalid" };

/**
 * IMDSv2 session tokens: 100 characters of base64 as aws_signing_helper's, with a TTL of 1–21600 s. Each token
 * carries its expiry and this process's HMAC of it, so nothing is stored: however many tokens other local users
 * request, none can push a consumer's token out before its TTL (aws_signing_helper keeps 256 and drops the one
 * expiring first, which any local user could do to all others in a loop). Tokens end with the process (SIGHUP too).
 */
export class ImdsTokenStore {
  readonly #key = randomBytes(32);
  readonly #now: () => number;
  // The token checked last: a client sends the same one on every request, and comparing it costs a fraction of
  // decoding and hashing it.
  #last: { readonly token: string; readonly expiresAt: number } | undefined;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Parses the TTL header: absent means 21600; otherwise a decimal integer in 1..21600. */
  static parseTtl(header: string | undefined): number | undefined {
    if (header === undefined) return MAX_TTL_SECONDS;
    if (!/^[+-]?\d+$/.test(header.trim())) return undefined;
    const ttl = Number(header.trim());
    return ttl >= 1 && ttl <= MAX_TTL_SECONDS ? ttl : undefined;
  }

  issue(ttlSeconds: number): string {
    const token = Buffer.alloc(SIGNED + 32);
    token.writeUIntBE(this.#now() + ttlSeconds * 1000, 0, 6);
    randomFillSync(token, 6, SIGNED - 6);
    this.#mac(token).copy(token, SIGNED);
    return token.toString("base64");
  }

  /** `now`: the caller's clock reading, when it has one (serve reads the clock once per request). */
  check(token: string | undefined, now = this.#now()): TokenCheck {
    if (token === undefined || token === "") return { ok: false, reason: "missing" };
    const last = this.#last;
    let expiresAt = last?.token === token ? last.expiresAt : undefined;
    if (expiresAt === undefined) {
      const bytes = BASE64_100.test(token) ? Buffer.from(token, "base64") : undefined;
      if (!bytes || !timingSafeEqual(this.#mac(bytes), bytes.subarray(SIGNED))) return { ok: false, reason: "invalid" };
      expiresAt = bytes.readUIntBE(0, 6);
      this.#last = { token, expiresAt };
    }
    if (expiresAt <= now) return { ok: false, reason: "invalid" };
    return { ok: true, remainingSeconds: Math.floor((expiresAt - now) / 1000) };
  }

  #mac(token: Buffer): Buffer {
    return createHmac("sha256", this.#key).update(token.subarray(0, SIGNED)).digest();
  }
}
