/**
 * Text scanners on a long run of white space, in linear time: each figure at 40,000 characters next to the same at
 * 20,000 (the reference); the ratio is ~2 for a linear scan, ~4 for a quadratic one. Unit tests cannot say this
 * without a clock (a backtracking regex does its work inside one call): test/errors/error-codes.test.ts and
 * test/update/credentials-file.test.ts keep the behaviour. Before (b6a94f41): printableLine on 40,000 spaces 5 s, a
 * credentials-file name with 40,000 spaces inside 25 s.
 */
import { printableLine } from "../src/errors.js";
import { upsertProfileCredentials } from "../src/update/credentials-file.js";
import { median } from "./lib/measure.js";

const credentials = { accessKeyId: "ASIA", secretAccessKey: "s", sessionToken: "t", expiration: new Date("2030-01-01T00:00:00Z") };
const cases: Array<[string, (n: number) => () => unknown]> = [
  ["printableLine, a run of spaces no control follows", (n) => { const run = " ".repeat(n); return () => printableLine(`a${run}b${run}\u001b${run}c`); }],
  ["credentials file, a name with a run of spaces inside", (n) => {
    const file = Buffer.from(`[other]\na${" ".repeat(n)}b = 1\na${" ".repeat(n)}b = 2\n[gw]\n`);
    return () => upsertProfileCredentials(file, "gw", credentials, () => {});
  }],
];
const timed = (run: () => unknown) => {
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return median(samples);
};
console.log("Long runs of white space (linear: ratio ~2; quadratic: ~4)");
for (const [what, make] of cases) {
  const figure = timed(make(40_000));
  const reference = timed(make(20_000));
  console.log(`${what}: 40,000 chars ${figure.toFixed(2)} ms | reference 20,000 chars ${reference.toFixed(2)} ms | ratio ${(figure / reference).toFixed(2)}`);
}
