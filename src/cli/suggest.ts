/**
 * "Did you mean …?": the names closest to a mistyped one, and the spellings users bring from the Go
 * aws_signing_helper, pkcs11-tool, curl and the AWS CLI, answered with the flag that does the job here.
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates close enough to `word` to be what was meant, best first (at most `limit`). Close enough:
 * within a third of the word's length (at least 1 edit), or `word` is a prefix of the candidate or the
 * other way round (`--cert` for `--certificate`).
 */
export function nearestNames(word: string, candidates: Iterable<string>, limit = 3): string[] {
  const w = word.toLowerCase();
  const allowed = Math.max(1, Math.floor(w.length / 3));
  const scored: { name: string; score: number }[] = [];
  for (const name of new Set(candidates)) {
    const n = name.toLowerCase();
    const distance = editDistance(w, n);
    const prefix = w.length >= 3 && (n.startsWith(w) || w.startsWith(n));
    if (distance <= allowed || prefix) scored.push({ name, score: prefix ? Math.min(distance, 1.5) : distance });
  }
  return scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name)).slice(0, limit).map((s) => s.name);
}

/** Flags users type from other tools, and what they mean here. */
export const FOREIGN_FLAGS: Readonly<Record<string, readonly string[]>> = {
  // aws_signing_helper has no PIN flag (it prompts or reads pin-value from the URI); users guess these.
  "pkcs11-pin": ["pkcs11-pin-file", "pkcs11-pin-env"],
  pin: ["pkcs11-pin-file", "pkcs11-pin-env"],
  "pin-value": ["pkcs11-pin-file", "pkcs11-pin-env"],
  "tpm-password": ["tpm-key-password-file", "tpm-key-password-env"],
  "key-password": ["pkcs8-password-file", "tpm-key-password-file"],
  password: ["pkcs8-password-file", "tpm-key-password-file"],
  // pkcs11-tool, p11tool, curl, openssl, the AWS CLI
  module: ["pkcs11-lib"],
  provider: ["pkcs11-lib"],
  cert: ["certificate"],
  key: ["private-key"],
  cacert: ["ca-bundle"],
  "ca-cert": ["ca-bundle"],
  chain: ["intermediates"],
  insecure: ["no-verify-ssl"],
  k: ["no-verify-ssl"],
  role: ["role-arn"],
  "trust-anchor": ["trust-anchor-arn"],
  duration: ["session-duration"],
  "duration-seconds": ["session-duration"],
  "endpoint-url": ["endpoint"],
  tpm: ["tpm-device"],
  "tpm-handle": ["private-key handle:0x81…"],
  verbose: ["debug"],
  v: ["debug"],
};

/**
 * The hint for an unknown flag: the Go/other-tool spelling first, then the nearest flags of this command,
 * then (when the flag exists elsewhere) the commands that have it.
 */
export function unknownFlagHint(flag: string, known: readonly string[], elsewhere: ReadonlyMap<string, readonly string[]> = new Map()): string | undefined {
  const foreign = FOREIGN_FLAGS[flag];
  if (foreign) {
    const here = foreign.filter((f) => known.includes(f.split(" ")[0]!));
    if (here.length > 0) return `did you mean ${here.map((f) => `--${f}`).join(" or ")}?`;
  }
  const near = nearestNames(flag, known);
  if (near.length > 0) return `did you mean ${near.map((f) => `--${f}`).join(" or ")}?`;
  const owners = elsewhere.get(flag);
  if (owners && owners.length > 0) return `--${flag} belongs to ${owners.map((c) => `'${c}'`).join(", ")}`;
  return undefined;
}
