#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when something is missing.
# Safe to run repeatedly; needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

# chromium: the DNS-rebinding test drives a real browser (native-test/serve-dns-rebinding.test.ts).
packages=(softhsm2 opensc gnutls-bin p11-kit swtpm swtpm-tools tpm2-tools tpm2-openssl libtss2-dev awscli wrk hyperfine curl openssl chromium build-essential python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
