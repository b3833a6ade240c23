#!/usr/bin/env bash
# The one test command (README, `npm test`, .ci/run): installs what the tests need when missing, builds,
# runs every unit and native test, and ends with the plain line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# The cross-user tests run dist/cli.js as other local users (useradd, uid 65534): they must be able to reach the
# checkout. A clone made with `mktemp -d` is mode 0700; grant traversal (not listing) on the checkout's own directory.
if [ "$(id -u)" = 0 ] && [ -O . ] && [ "$(( 0$(stat -c %a .) & 1 ))" = 0 ]; then
  echo "test.sh: chmod o+x $(pwd) so that the cross-user tests' other users can run dist/cli.js" >&2
  chmod o+x .
fi

# A directory above the checkout may still shut them out (root's 0700 home): the checkout is then run through a
# bind mount at a path they can reach, in a mount namespace of this run's own.
if [ "$(id -u)" = 0 ] && [ -z "${RAA_TEST_VIEW:-}" ] && command -v setpriv >/dev/null \
  && ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$(pwd)" 2>/dev/null \
  && unshare --mount --propagation private true 2>/dev/null; then
  view="$(mktemp -d -t raa-checkout-XXXXXX)"
  chmod 755 "$view"
  echo "test.sh: other users cannot reach $(pwd); the tests run it as $view (a bind mount)" >&2
  status=0
  RAA_TEST_VIEW="$view" unshare --mount --propagation private \
    bash -c 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec bash scripts/test.sh "$@"' bash "$(pwd)" "$view" "$@" \
    || status=$?
  rmdir "$view"
  exit "$status"
fi

bash scripts/install-system-deps.sh

# npm ci only when node_modules is missing or older than the lockfile (a fresh clone always installs).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm_config_nodedir=/usr npm ci --no-audit --no-fund >&2
fi

npm run --silent build >&2
npx tsc -p tsconfig.json --noEmit >&2

reports="$(mktemp -d -t raa-vitest-XXXXXX)"
trap 'rm -rf "$reports"' EXIT
status=0
# A run that ended without its report (vitest crashed) counts as one failed test; so does a run that failed
# with no failed test in its report (an unhandled error outside any test), under the name <report>-errors.
ran() {
  local report="$1" rc="$2"
  [ -f "$report" ] || echo '{"numTotalTests": 1, "numPassedTests": 0, "numFailedTests": 1}' > "$report"
  if [ "$rc" != 0 ] && node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).numFailedTests > 0 ? 1 : 0)' "$report"; then
    echo "test.sh: $(basename "$report" .json) exited with status $rc although no test failed (an error outside the tests, above)" >&2
    echo '{"numTotalTests": 1, "numPassedTests": 0, "numFailedTests": 1}' > "${report%.json}-errors.json"
  fi
  if [ "$rc" != 0 ]; then status="$rc"; fi
}
main_report="$reports/node-$(node -p 'process.versions.node.split(".")[0]').json"
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$main_report" "$@" || rc=$?
ran "$main_report" "$rc"

# Supported Node.js versions are 20, 22 and 24: the CLI's end-to-end native tests (file keys, SoftHSM, the agent)
# and serve's hook into Node's HTTP parser and its answers to raw requests (~15 s) run again under Node 22 and 24 (vitest itself and every CLI process it starts), with the official binaries
# from the npm packages node-linux-<arch>@22/@24, cached outside the repository (scripts/node-release.sh). So do the
# unit tests of key files and certificates that each Node's OpenSSL reads differently (PKCS#8 versions; validity times
# and a time as an algorithm's parameters, which OpenSSL 3.5 refuses up front: ~15 s), and of the TLS pairs serve and
# the local endpoint hand to each Node's TLS (tls-files, tls-key: the same answer on every Node).
# Skipped when the test command was given a selection of tests.
OTHER_NODE_TESTS=(native-test/cli-credential-process.test.ts native-test/cli-inputs.test.ts native-test/pkcs11-credential-process.test.ts native-test/agent.test.ts native-test/serve-costly-requests.test.ts
  test/signers/file/pkcs8-versions.test.ts test/signers/file/key-errors.test.ts
  test/x509/validity.test.ts test/x509/certificate.test.ts test/x509/names/go-name.test.ts test/x509/read-certificates.test.ts
  test/hardening/serve.fuzz.test.ts test/serve/credential-server.test.ts test/serve/tls-endpoint.test.ts
  test/serve/tls-files.test.ts test/local-endpoint/tls-key.test.ts)
if [ "$#" -eq 0 ]; then
  for major in 22 24; do
    if ! bin="$(bash scripts/node-release.sh "$major")"; then
      echo "Node.js $major could not be installed from the npm registry (node-linux-$(node -p process.arch)@$major)" >&2
      echo '{"numTotalTests": 1, "numPassedTests": 0, "numFailedTests": 1}' > "$reports/node-$major.json"
      status=1
      continue
    fi
    echo "== the CLI's end-to-end tests and the key-file tests under Node.js $("$bin" --version)" >&2
    rc=0
    PATH="$(dirname "$bin"):$PATH" RAA_TEST_NODE_MAJOR="$major" "$bin" node_modules/vitest/vitest.mjs run --project native --project unit \
      --reporter=default --reporter=json --outputFile.json="$reports/node-$major.json" "${OTHER_NODE_TESTS[@]}" || rc=$?
    ran "$reports/node-$major.json" "$rc"
  done
fi

node -e '
  const fs = require("fs"), path = require("path");
  let passed = 0, failed = 0, total = 0;
  for (const file of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(path.join(process.argv[1], file), "utf8"));
    if (r.numTotalTests === 0) { failed++; console.error(`${file}: no test ran`); }
    // Named here, next to the counts, so that the tail of a CI log says which test failed and why.
    for (const suite of r.testResults ?? []) {
      const where = path.relative(process.cwd(), suite.name);
      const failures = (suite.assertionResults ?? []).filter((a) => a.status === "failed");
      for (const a of failures) console.error(`FAILED (${file.replace(".json", "")}) ${where} > ${a.fullName ?? a.title}: ${String(a.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 300)}`);
      if (suite.status === "failed" && failures.length === 0) console.error(`FAILED (${file.replace(".json", "")}) ${where}: ${String(suite.message ?? "").split("\n")[0].slice(0, 300)}`);
    }
    passed += r.numPassedTests; failed += r.numFailedTests; total += r.numTotalTests;
    console.error(`${file.replace(".json", "")}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  }
  if (total === 0) { console.log("0 passed, 1 failed"); process.exit(1); }
  console.log(`${passed} passed, ${failed} failed`);
' "$reports" || status=1
exit "$status"
