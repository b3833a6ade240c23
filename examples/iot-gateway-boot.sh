#!/bin/sh
# IoT gateway boot script: wait (bounded) for the network, write credentials once, then start the application.
# Suitable for /etc/rc.local, an init.d script, or ExecStartPre= of the app's unit.
#
#   ROLES_ANYWHERE_PROFILE   config-file profile to use               (default: gateway)
#   NETWORK_WAIT_SECONDS     how long to wait for the endpoint, total (default: 120)
#   APP                      command to exec afterwards               (optional)
set -eu

PROFILE="${ROLES_ANYWHERE_PROFILE:-gateway}"
CONFIG="${ROLES_ANYWHERE_CONFIG:-/etc/roles-anywhere-agent/config.json}"
WAIT="${NETWORK_WAIT_SECONDS:-120}"
export AWS_SHARED_CREDENTIALS_FILE="${AWS_SHARED_CREDENTIALS_FILE:-/var/lib/roles-anywhere-agent/credentials}"

log() { echo "gateway-boot: $*" >&2; }

# 1. Write the credentials, retrying with capped exponential backoff and full jitter (a random wait under a
#    doubling ceiling: gateways that booted together after a power cut must not retry together) until the
#    deadline. `update --once` exits 7 on network errors and throttling (worth retrying), other codes mean a
#    problem a retry will not fix (3 = bad input/config, 4 = wrong PIN — never retried, the token would lock,
#    5 = token/TPM missing). A fleet booting together shares one CreateSession quota (about 10/s): give it a
#    NETWORK_WAIT_SECONDS of at least 1.2 × devices / quota (1,200 s for 10,000 gateways).
deadline=$(( $(date +%s) + WAIT ))
delay=2
attempt=1
while :; do
  # A clock wrong at boot (1970 without a battery-backed clock) is waited for by update --once itself, up to
  # 5 min until NTP steps it (docs/long-running.md), unless its stderr is a terminal (a boot console): hence
  # the capture. Its messages are printed when it returns.
  if out=$(roles-anywhere-agent update --once --config "$CONFIG" --config-profile "$PROFILE" 2>&1); then
    [ -z "$out" ] || printf '%s\n' "$out" >&2
    break
  else
    rc=$?
    [ -z "$out" ] || printf '%s\n' "$out" >&2
  fi
  case "$rc" in
    7|5) ;;                                     # network or device not ready yet: retry
    *) log "update failed with exit code $rc; not retrying"; exit "$rc" ;;
  esac
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    log "no credentials after ${WAIT}s (attempt $attempt); giving up"
    exit "$rc"
  fi
  wait_s=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % delay + 1 ))   # POSIX sh has no $RANDOM
  log "attempt $attempt failed (exit $rc); retrying in ${wait_s}s"
  sleep "$wait_s"
  attempt=$(( attempt + 1 ))
  delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
done

# 2. Keep them fresh from now on (refreshed at a random point of their lifetime, survives outages), then start
#    the app.
roles-anywhere-agent update --config "$CONFIG" --config-profile "$PROFILE" &
log "credentials ready in $AWS_SHARED_CREDENTIALS_FILE (profile $PROFILE); refresher running as pid $!"

if [ -n "${APP:-}" ]; then
  exec sh -c "$APP"
fi
