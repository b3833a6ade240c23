#!/usr/bin/env bash
# Creates throwaway SoftHSM tokens for tests, demos and CI:
#
#   bash softhsm/create-test-token.sh DIR          # then: eval "$(bash softhsm/create-test-token.sh DIR)"
#
# DIR gets softhsm2.conf, the token files, a test CA (ca.pem/ca.key), an intermediate CA (int-ca.pem/int-ca.key)
# and every leaf key/certificate as PEM files (for "certificate in a file, key on the token" use).
#
# Token "rolesanywhere" (user PIN 1234, SO PIN 12345678):
#   id 01 rsa-key          RSA-2048 key + certificate (issued by the CA)
#   id 02 ec-key           EC P-256 key + certificate (issued by the CA)
#   id 02 "X.509 Certificate for PIV Attestation 9a"   a certificate sharing ec-key's id, as YubiKeys have
#   id 03 ec384-key        EC P-384 key + certificate (issued by the intermediate CA, which is on the token too)
#   id 04 always-auth      EC P-256 key with CKA_ALWAYS_AUTHENTICATE + certificate
#   id 05 no-cert          EC P-256 key without a certificate
#   id 06 no-sign          RSA-2048 key with CKA_SIGN=false + certificate
#   id 07 ec521-key        EC P-521 key + certificate
#   id 10 "Roles Anywhere Test Intermediate CA", id 11 "Roles Anywhere Test CA"   CA certificate objects
# Token "second-token" (user PIN 1234): id 02 ec-key, EC P-256 key + certificate (same label and id as above).
#
# Idempotent: a complete DIR is reused as it is; an incomplete one is rebuilt. Needs softhsm2, opensc
# (pkcs11-tool), gnutls-bin (p11tool) and openssl. Prints shell lines (comments and exports) on stdout.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$(realpath -m "$1")
FORMAT=1 # bump when the token layout changes, so that old directories are rebuilt

MODULE=${SOFTHSM2_MODULE:-}
if [ -z "$MODULE" ]; then
  for candidate in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/softhsm/libsofthsm2.so \
    /usr/local/lib/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so /opt/homebrew/lib/softhsm/libsofthsm2.so; do
    if [ -e "$candidate" ]; then MODULE=$candidate; break; fi
  done
fi
if [ -z "$MODULE" ] || [ ! -e "$MODULE" ]; then
  echo "$0: libsofthsm2.so not found; install SoftHSM (Debian/Ubuntu: apt-get install softhsm2) or set SOFTHSM2_MODULE" >&2
  exit 1
fi
for tool in softhsm2-util pkcs11-tool p11tool openssl; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (packages: softhsm2 opensc gnutls-bin openssl)" >&2; exit 1; }
done

TOKEN=rolesanywhere
TOKEN2=second-token
PIN=1234
SO_PIN=12345678
export SOFTHSM2_CONF="$D/softhsm2.conf"

if [ "$(cat "$D/.complete" 2>/dev/null || true)" != "$FORMAT" ]; then
  mkdir -p "$D"
  rm -rf "$D/tokens" "$D/.complete"
  mkdir -p "$D/tokens"
  chmod 700 "$D" "$D/tokens"
  sed "s|@TOKENDIR@|$D/tokens|" "$HERE/softhsm2.conf.template" >"$D/softhsm2.conf"
  cd "$D"

  # Keys and certificates, made in parallel (RSA key generation dominates the run time).
  key() { # name genpkey-args...
    local name=$1; shift
    openssl genpkey "$@" -out "$name.key" 2>/dev/null
  }
  ec() { key "$1" -algorithm EC -pkeyopt "ec_paramgen_curve:$2"; }
  rsa() { key "$1" -algorithm RSA -pkeyopt rsa_keygen_bits:2048; }
  rsa rsa-key & rsa no-sign &
  ec ca P-256 & ec int-ca P-256 & ec ec-key P-256 & ec ec384-key P-384 & ec always-auth P-256 & ec no-cert P-256 &
  ec ec521-key P-521 & ec attestation P-256 & ec ec-key-2 P-256 &
  wait
  for name in rsa-key no-sign ca int-ca ec-key ec384-key always-auth no-cert ec521-key attestation ec-key-2; do
    [ -s "$name.key" ] || { echo "$0: openssl could not generate $name.key" >&2; exit 1; }
  done

  openssl req -x509 -new -key ca.key -out ca.pem -days 3650 -sha256 -subj "/CN=Roles Anywhere Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >int-ca.ext
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >leaf.ext
  issue() { # name issuer ext [subject]
    local name=$1 issuer=$2 ext=$3 subject=${4:-/CN=$1}
    openssl req -new -key "$name.key" -subj "$subject" 2>/dev/null |
      openssl x509 -req -CA "$issuer.pem" -CAkey "$issuer.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 365 -sha256 -extfile "$ext" -out "$name.pem" 2>/dev/null
    openssl x509 -in "$name.pem" -outform DER -out "$name.der"
  }
  issue int-ca ca int-ca.ext "/CN=Roles Anywhere Test Intermediate CA"
  for name in rsa-key ec-key always-auth no-sign ec521-key attestation; do issue "$name" ca leaf.ext & done
  issue ec384-key int-ca leaf.ext &
  issue ec-key-2 ca leaf.ext "/CN=ec-key on second-token" &
  wait
  for name in rsa-key ec-key always-auth no-sign ec521-key attestation ec384-key ec-key-2; do
    [ -s "$name.der" ] || { echo "$0: openssl could not issue $name.pem" >&2; exit 1; }
  done
  openssl x509 -in ca.pem -outform DER -out ca.der

  softhsm2-util --init-token --free --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
  softhsm2-util --init-token --free --label "$TOKEN2" --so-pin "$SO_PIN" --pin "$PIN" >/dev/null

  P11=(pkcs11-tool --module "$MODULE" --login --pin "$PIN")
  import_key() { # token name id  (softhsm2-util makes the private and the public key object)
    softhsm2-util --import "$2.key" --token "$1" --label "$2" --id "$3" --pin "$PIN" >/dev/null
  }
  write_cert() { # token der-file id label
    "${P11[@]}" --token-label "$1" --write-object "$2" --type cert --id "$3" --label "$4" >/dev/null
  }
  for entry in rsa-key:01 ec-key:02 ec384-key:03 no-cert:05 ec521-key:07; do
    import_key "$TOKEN" "${entry%%:*}" "${entry##*:}"
  done
  for entry in rsa-key:01 ec-key:02 ec384-key:03 always-auth:04 no-sign:06 ec521-key:07; do
    write_cert "$TOKEN" "${entry%%:*}.der" "${entry##*:}" "${entry%%:*}"
  done
  write_cert "$TOKEN" attestation.der 02 "X.509 Certificate for PIV Attestation 9a"
  write_cert "$TOKEN" int-ca.der 10 "Roles Anywhere Test Intermediate CA"
  write_cert "$TOKEN" ca.der 11 "Roles Anywhere Test CA"
  # softhsm2-util cannot set CKA_ALWAYS_AUTHENTICATE; pkcs11-tool can (it makes no public key object).
  "${P11[@]}" --token-label "$TOKEN" --write-object always-auth.key --type privkey --id 04 --label always-auth \
    --always-auth --usage-sign --sensitive --private >/dev/null
  # pkcs11-tool and softhsm2-util always set CKA_SIGN; p11tool --mark-decrypt writes a decrypt-only key.
  GNUTLS_PIN=$PIN p11tool --provider "$MODULE" --login --write --load-privkey no-sign.key --label no-sign --id 06 \
    --mark-decrypt "pkcs11:token=$TOKEN" >/dev/null 2>&1

  softhsm2-util --import ec-key-2.key --token "$TOKEN2" --label ec-key --id 02 --pin "$PIN" >/dev/null
  write_cert "$TOKEN2" ec-key-2.der 02 ec-key

  rm -f ./*.csr ./*.srl
  chmod 600 ./*.key
  echo "$FORMAT" >"$D/.complete"
fi

SERIAL=$(pkcs11-tool --module "$MODULE" -L 2>/dev/null | awk -v t="$TOKEN" '
  /token label/ { label = $0; sub(/.*: /, "", label) }
  /serial num/ { if (label == t) { s = $0; sub(/.*: /, "", s); print s; exit } }')

cat <<EOF
# SoftHSM test tokens in $D (user PIN $PIN, SO PIN $SO_PIN)
# token $TOKEN (serial $SERIAL) and $TOKEN2, both holding an object labelled ec-key
# pkcs11:token=$TOKEN;object=rsa-key        RSA-2048, certificate $D/rsa-key.pem
# pkcs11:token=$TOKEN;object=ec-key         EC P-256, certificate $D/ec-key.pem
# pkcs11:token=$TOKEN;object=ec384-key      EC P-384, issued by the intermediate CA $D/int-ca.pem (also on the token)
# pkcs11:token=$TOKEN;object=ec521-key      EC P-521
# pkcs11:token=$TOKEN;object=always-auth    EC P-256 with CKA_ALWAYS_AUTHENTICATE (use --reuse-pin)
# pkcs11:token=$TOKEN;object=no-cert        EC P-256 key without a certificate
# pkcs11:token=$TOKEN;object=no-sign        RSA key with CKA_SIGN=false (for error handling)
# pkcs11:token=$TOKEN2;object=ec-key        EC P-256 on the second token
export SOFTHSM2_CONF=$D/softhsm2.conf
export PKCS11_MODULE=$MODULE
export PKCS11_TOKEN=$TOKEN
export PKCS11_PIN=$PIN
export PKCS11_EC_KEY_URI='pkcs11:token=$TOKEN;object=ec-key'
export CA_CERT=$D/ca.pem
EOF
