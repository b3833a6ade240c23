#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when something is missing.
# Safe to run repeatedly, also by several test runs at once (apt is serialised on /tmp/apt.lock);
# needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

packages=(
  softhsm2 opensc gnutls-bin p11-kit swtpm swtpm-tools tpm2-tools tpm2-openssl libtss2-dev awscli wrk hyperfine curl openssl
  # `completion zsh|fish` scripts are loaded by the real shells (native-test/operator-cli.test.ts)
  zsh fish
  # the native helper (native/) is built with node-gyp, for linux-arm64 too with the cross compiler (and its C
  # library's headers: a recommendation only); an arm64 Node.js runs it under qemu (native-test/native-helper-arm64.test.ts)
  build-essential python3 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
  # the DNS-rebinding test drives a real browser (native-test/serve-dns-rebinding.test.ts)
  chromium
  # other vendors' PKCS#11 modules: tpm2-pkcs11 (through tpm2-abrmd on a private D-Bus), NSS softokn (certutil)
  libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus libnss3 libnss3-tools
  # the virtual YubiKey: vsmartcard's vpcd reader behind a private pcscd, Yubico's ykcs11 and yubico-piv-tool
  pcscd vsmartcard-vpcd ykcs11 yubico-piv-tool iproute2 util-linux
  # libfaketime steps the wall clock of `update --once` at a boot before NTP (native-test/update.test.ts)
  faketime
  # wat2wasm assembles the code-cache checksum's source to compare it with the bytes shipped (test/cli/code-cache.test.ts)
  wabt
  # a btrfs loop image: a module on btrfs is not said to be replaced (native-test/module-replaced-other-fs.test.ts)
  btrfs-progs
  # setfacl/getfacl: update keeps a POSIX ACL on the credentials file (native-test/update-acl.test.ts)
  acl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock apt-get update -qq >&2
$SUDO env DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
