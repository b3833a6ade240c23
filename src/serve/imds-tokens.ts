import { randomBytes } from "node:crypto";

const MAX_TOKENS = 256;
const MAX_TTL_SECONDS = 21600;

type TokenCheck = { readonly ok: true; readonly remainingSeconds: number } | { readonly ok: false; readonly reason: "missing" | "invalid" };

/**
 * IMDSv2 session tokens, as aws_signing_helper issues them: 100 characters of base64 from 128 random bytes,
 * a TTL of 1–21600 s, at most 256 alive (the one expiring first is dropped to make room). Expired tokens
 * are pruned whenever a token is issued, so no janitor timer is needed.
 */
export class ImdsTokenStore {
  readonly #tokens = new Map<string, number>();
  readonly #now: () => number;
  // The token found last: a client sends the same one on every request, and comparing it costs a fraction of
  // hashing 100 characters for the map lookup. Forgotten whenever a token is removed.
  #last: { readonly token: string; readonly expiresAt: number } | undefined;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** Parses the TTL header: absent means 21600; otherwise a decimal integer in 1..21600. */
  static parseTtl(header: string | undefined): number | undefined {
    if (header === undefined) return MAX_TTL_SECONDS;
    if (!/^[+-]?\d+$/.test(header.trim())) return undefined;
    const ttl = Number(header.trim());
    return ttl >= 1 && ttl <= MAX_TTL_SECONDS ? ttl : undefined;
  }

  issue(ttlSeconds: number): string {
    const now = this.#now();
    this.#last = undefined;
    for (const [token, expiresAt] of this.#tokens) if (expiresAt <= now) this.#tokens.delete(token);
    if (this.#tokens.size >= MAX_TOKENS) {
      const [earliest] = [...this.#tokens].reduce((a, b) => (b[1] < a[1] ? b : a));
      this.#tokens.delete(earliest);
    }
    const token = randomBytes(128).toString("base64").slice(0, 100);
    this.#tokens.set(token, now + ttlSeconds * 1000);
    return token;
  }

  /** `now`: the caller's clock reading, when it has one (serve reads the clock once per request). */
  check(token: string | undefined, now = this.#now()): TokenCheck {
    if (token === undefined || token === "") return { ok: false, reason: "missing" };
    const last = this.#last;
    const expiresAt = last?.token === token ? last.expiresAt : this.#tokens.get(token);
    if (expiresAt === undefined || expiresAt <= now) {
      this.#tokens.delete(token);
      this.#last = undefined;
      return { ok: false, reason: "invalid" };
    }
    if (last?.token !== token) this.#last = { token, expiresAt };
    return { ok: true, remainingSeconds: Math.floor((expiresAt - now) / 1000) };
  }
}
