// Extracts the small subset of NIST ACVP ML-DSA vectors these tests use (see ../README.md).
// Usage: node extract-acvp.mjs <keyGen internalProjection.json> <sigGen …> <sigVer …>
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [keyGenPath, sigGenPath, sigVerPath] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const load = (path) => JSON.parse(readFileSync(path, "utf8"));
const save = (name, data) => writeFileSync(join(here, name), JSON.stringify(data, null, 1) + "\n");

// keyGen: the first two cases of each parameter set.
const keyGen = load(keyGenPath).testGroups.map((g) => ({
  tgId: g.tgId,
  parameterSet: g.parameterSet,
  tests: g.tests.slice(0, 2).map(({ tcId, seed, pk, sk }) => ({ tcId, seed, pk, sk })),
}));
save("keygen.json", { source: "ML-DSA-keyGen-FIPS204/internalProjection.json", testGroups: keyGen });

// sigGen: deterministic groups (ML-DSA.Sign_internal, rnd = 0^32), the two shortest messages of each.
const sigGen = load(sigGenPath)
  .testGroups.filter((g) => g.deterministic === true)
  .map((g) => ({
    tgId: g.tgId,
    parameterSet: g.parameterSet,
    deterministic: true,
    tests: [...g.tests]
      .sort((a, b) => a.message.length - b.message.length)
      .slice(0, 2)
      .map(({ tcId, sk, message, signature }) => ({ tcId, sk, message, signature })),
  }));
save("siggen.json", { source: "ML-DSA-sigGen-FIPS204/internalProjection.json", testGroups: sigGen });

// sigVer: per parameter set, the first valid case and the first "z too large" and "too many hints" cases.
const reasons = ["no modification", "z too large", "too many hints"];
const sigVer = load(sigVerPath).testGroups.map((g) => ({
  tgId: g.tgId,
  parameterSet: g.parameterSet,
  pk: g.pk,
  tests: reasons
    .map((r) => g.tests.find((t) => t.reason === r))
    .map(({ tcId, testPassed, reason, message, signature }) => ({ tcId, testPassed, reason, message, signature })),
}));
save("sigver.json", { source: "ML-DSA-sigVer-FIPS204/internalProjection.json", testGroups: sigVer });
