#!/usr/bin/env bash
# `npm run demo`: the main job end to end on the bundled defaults.
#   1. a throwaway SoftHSM token holding an EC P-256 device key and its certificate (softhsm/create-test-token.sh)
#   2. the bundled verifying CreateSession endpoint (local-endpoint), trusting the token's CA
#   3. credential-process with the key on the token → the credentials JSON
#   4. those credentials used once against the endpoint's STS GetCallerIdentity (by a real AWS SDK signer)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
[ -d node_modules ] || npm_config_nodedir=/usr npm ci --no-audit --no-fund >&2
npm run --silent build >&2

work=$(mktemp -d -t raa-demo-XXXXXX)
endpoint_pid=""
cleanup() { [ -n "$endpoint_pid" ] && kill "$endpoint_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== 1. SoftHSM token in $work/token" >&2
eval "$(bash softhsm/create-test-token.sh "$work/token")"

echo "== 2. local CreateSession endpoint (trust anchor: the token's CA)" >&2
node dist/cli.js local-endpoint --trust-anchors "$CA_CERT" --port 0 >"$work/url" 2>"$work/endpoint.log" &
endpoint_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/url")
[ -n "$url" ] || { echo "the local endpoint did not start:" >&2; cat "$work/endpoint.log" >&2; exit 1; }
echo "   listening on $url" >&2

account=111122223333
echo "== 3. credential-process with the key on the token ($PKCS11_EC_KEY_URI)" >&2
printf '%s' "$PKCS11_PIN" >"$work/pin" && chmod 600 "$work/pin"
set -x
node dist/cli.js credential-process \
  --certificate "$PKCS11_EC_KEY_URI" --pkcs11-lib "$PKCS11_MODULE" --pkcs11-pin-file "$work/pin" \
  --trust-anchor-arn "arn:aws:rolesanywhere:us-east-1:$account:trust-anchor/demo-anchor" \
  --profile-arn "arn:aws:rolesanywhere:us-east-1:$account:profile/demo-profile" \
  --role-arn "arn:aws:iam::$account:role/demo-device-role" \
  --endpoint "$url" >"$work/credentials.json"
{ set +x; } 2>/dev/null
cat "$work/credentials.json"; echo

echo "== 4. the credentials at work: STS GetCallerIdentity against the same endpoint" >&2
node --no-warnings --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
  const c = JSON.parse(readFileSync(process.argv[1], "utf8"));
  const sts = new STSClient({ region: "us-east-1", endpoint: process.argv[2],
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } });
  const id = await sts.send(new GetCallerIdentityCommand({}));
  console.error(`   caller identity: ${id.Arn}`);
' "$work/credentials.json" "$url"
