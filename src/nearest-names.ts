/** "Did you mean …?": the names closest to a mistyped one (flags, commands, regions, token objects). */

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. Above
 * `max` it answers `max + 1` without building the table when the lengths alone differ by more (a hostile name of
 * 100,000 characters against every known one cost seconds).
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
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
 * The candidates close enough to `word` to be what was meant, best first (at most three). Close enough:
 * within a third of the word's length (at least 1 edit), or `word` is a prefix of the candidate or the
 * other way round (`--cert` for `--certificate`).
 */
export function nearestNames(word: string, candidates: Iterable<string>): string[] {
  const w = word.toLowerCase();
  const allowed = Math.max(1, Math.floor(w.length / 3));
  const scored: { name: string; score: number }[] = [];
  for (const name of new Set(candidates)) {
    const n = name.toLowerCase();
    const distance = editDistance(w, n, allowed);
    const prefix = w.length >= 3 && (n.startsWith(w) || w.startsWith(n));
    if (distance <= allowed || prefix) scored.push({ name, score: prefix ? Math.min(distance, 1.5) : distance });
  }
  return scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name)).slice(0, 3).map((s) => s.name);
}
