/**
 * The structure-aware fuzzer's fast mode (fixed seed, a few hundred cases per parser, a few seconds each):
 * part of `npm test`. `npm run fuzz` runs the same targets with ≥ 100,000 cases each (scripts/fuzz.mjs).
 * Every case is accepted (and passes its parser's oracle) or refused with an AgentError; anything else —
 * another exception, an oracle failure, a hang (engine.ts: the event loop blocked > 1 s) — fails the test with its reproducer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/pki.js";
import { emptyCounts, formatCounts, runTarget, type Counts } from "./engine.js";
import { setupTargets, type FuzzSetup } from "./targets.js";

const SEED = Number(process.env["FUZZ_SEED"] ?? "20261202") | 0;
const CASES = Math.max(10, Number(process.env["FUZZ_CASES"] ?? "250") | 0);

const { dir, cleanup } = makeTempDir("raa-fuzz-");
let setup: FuzzSetup;
const results: Array<[string, Counts]> = [];

beforeAll(async () => {
  setup = await setupTargets(dir);
}, 120_000);
afterAll(() => {
  for (const [name, counts] of results) console.log(`FUZZ ${formatCounts(name, counts)}`);
  cleanup();
});

const NAMES = [
  "certificate", "names/principal tags", "private key: PKCS#8", "private key: SEC1", "private key: PKCS#1",
  "private key: encrypted PKCS#8", "PKCS#12", "TSS2 key file", "pkcs11: URI", "ARN", "config", "CreateSession response",
  "local endpoint: CreateSession request", "local endpoint: STS request", "CLI (in-process: sign-string on mutated key files)",
];

describe(`structure-aware fuzzing, fast mode (seed ${SEED}, ${CASES} cases per parser)`, () => {
  it("every parser has a target", () => {
    expect(setup.targets.map((t) => t.name)).toEqual(NAMES);
  });
  it.each(NAMES)("%s", async (name) => {
    const target = setup.targets.find((t) => t.name === name)!;
    const counts = await runTarget(target, SEED, 0, CASES, emptyCounts());
    results.push([name, counts]);
    expect(counts.failures, formatCounts(name, counts)).toEqual([]);
    expect(counts.cases).toBe(CASES);
  }, 60_000);
});
