#!/usr/bin/env bash
# Mutation testing of the src/ files given (StrykerJS, against the unit tests that import them): which wrong line
# would no test notice? Not part of `npm test`: about 1–3 s per mutant on 2 cores, hundreds of mutants per file.
#   npm run mutate -- src/io/trusted-path.ts [src/…]      report: $MUTATE_OUT (default: a new mktemp -d)/report.json
#   npm run mutate -- src/x509/certificate.ts:120-180     only those lines (Stryker's range form)
# MUTATE_TESTS="test/a.test.ts test/b/" replaces the test files found by import (all of test/ in one process does
# not work: some files' module state leaks into others').
# Stryker is installed into node_modules with --no-save (the next `npm ci` removes it) and runs under Node 22 from
# scripts/node-release.sh (Stryker 10 refuses Node 20). Survivors in module-level tables (a const Set, a lookup
# object) are often false: Stryker's vitest runner does not switch those mutants on; apply them by hand to check.
# Mutants run for real: one of src/cli/commands/install-systemd.ts that loses --dry-run installs the units on this
# host (/etc/systemd, sysusers.d: user roles-anywhere in group tss), which native-test/systemd-units.test.ts then
# finds; mutate that file on a throw-away machine, or remove what it wrote (find /etc -newer … -name '*roles-anywhere*').
set -euo pipefail
cd "$(dirname "$0")/.."
STRYKER_VERSION=10.1.1

[ $# -gt 0 ] || { echo "usage: npm run mutate -- src/FILE.ts [src/FILE.ts …]" >&2; exit 2; }
for file in "$@"; do
  if [[ ! "$file" =~ ^src/.*\.ts(:[0-9]+-[0-9]+)?$ || ! -f "${file%:*-*}" ]]; then
    echo "mutate: $file is not a .ts file under src/ (with :FIRST-LAST lines, if any)" >&2; exit 2
  fi
done

tests="${MUTATE_TESTS:-}"
if [ -z "$tests" ]; then
  for file in "$@"; do
    module="${file%:*-*}"; module="${module%.ts}"
    tests="$tests $(grep -rlF --include='*.test.ts' "${module#src/}.js\"" test | tr '\n' ' ' || true)"
  done
fi
if [ -z "${tests// /}" ]; then
  echo "mutate: no unit test imports $*; name the tests: MUTATE_TESTS='test/…' npm run mutate -- $*" >&2
  exit 2
fi

installed() { node -p "require('./node_modules/@stryker-mutator/$1/package.json').version" 2>/dev/null || true; }
if [ "$(installed core)" != "$STRYKER_VERSION" ] || [ "$(installed vitest-runner)" != "$STRYKER_VERSION" ]; then
  npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    "@stryker-mutator/core@$STRYKER_VERSION" "@stryker-mutator/vitest-runner@$STRYKER_VERSION" </dev/null >&2
fi
node22="$(bash scripts/node-release.sh 22)"

# Not a fixed name in /tmp: another user could make it first and swap the config written there before Stryker reads it.
out="${MUTATE_OUT:-$(mktemp -d -t raa-mutate-XXXXXX)}"
mkdir -p "$out"
node - "$out" "$tests" "$@" <<'SCRIPT'
const { writeFileSync } = require("node:fs");
const [out, tests, ...files] = process.argv.slice(2);
const asGlob = (t) => (t.endsWith(".ts") ? t : `${t.replace(/\/$/, "")}/**/*.test.ts`);
const include = tests.split(/\s+/).filter(Boolean).map(asGlob);
writeFileSync(`${out}/vitest.config.mjs`, `export default ${JSON.stringify({ test: { include } })};\n`);
const config = {
  testRunner: "vitest", plugins: ["@stryker-mutator/vitest-runner"], checkers: [],
  // Forks, not threads (Stryker's own option; the config's is overridden): a test that sets the umask cannot run in a
  // worker thread.
  vitest: { configFile: `${out}/vitest.config.mjs`, related: false, pool: "forks" },
  coverageAnalysis: "perTest", concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 1), timeoutMS: 30000,
  // In the checkout, as by default: a copy under /tmp changes what some tests see (paths systemd hides).
  mutate: files, tempDirName: ".stryker-tmp", cleanTempDir: true,
  reporters: ["clear-text", "progress", "json"], jsonReporter: { fileName: `${out}/report.json` },
  clearTextReporter: { logTests: false },
};
writeFileSync(`${out}/stryker.config.json`, JSON.stringify(config, null, 2));
SCRIPT
exec "$node22" node_modules/@stryker-mutator/core/bin/stryker.js run "$out/stryker.config.json"
