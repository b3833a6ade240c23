#!/usr/bin/env bash
# The one test command (README, `npm test`, .ci/run): installs what the tests need when missing, builds,
# runs every unit and native test, and ends with the plain line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

# npm ci only when node_modules is missing or older than the lockfile (a fresh clone always installs).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm_config_nodedir=/usr npm ci --no-audit --no-fund >&2
fi

npm run --silent build >&2
npx tsc -p tsconfig.json --noEmit >&2

report="$(mktemp -t raa-vitest-XXXXXX.json)"
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.numTotalTests === 0) { console.log("0 passed, 1 failed"); process.exit(1); }
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$report" || status=1
exit "$status"
