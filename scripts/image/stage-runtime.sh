#!/bin/sh
# Stages the container image's runtime files under DEST (the Containerfile's build stage runs this; so does
# native-test/container-image.test.ts, which checks the result in a chroot):
#   DEST/opt/roles-anywhere-agent/   the npm package installed from its own tarball (npm pack), production
#                                    dependencies only, the PKCS#11 addon (pkcs11js) compiled here;
#   nothing else: no sources, no tests, no dev dependencies, no compiler output but the .node files.
# Run from a checkout with its dev dependencies installed (npm ci): npm pack builds dist/ first.
set -eu
DEST=${1:?usage: stage-runtime.sh DEST}
PREFIX="$DEST/opt/roles-anywhere-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/roles-anywhere-agent-*.tgz)
npm install --global --prefix "$PREFIX" --omit=dev --no-audit --no-fund --prefer-offline "$tarball" >/dev/null

# The addon must have been built: an image without it cannot use PKCS#11 keys.
addon="$PREFIX/lib/node_modules/roles-anywhere-agent/node_modules/pkcs11js/build/Release/pkcs11.node"
[ -f "$addon" ] || { echo "stage-runtime: $addon was not built (is a C++ toolchain installed?)" >&2; exit 1; }

# Keep the compiled addons, drop what compiling them left behind (objects, makefiles, C++ sources).
find "$PREFIX" -type d -path '*/node_modules/*/build/Release' | while read -r release; do
  build=$(dirname "$release")
  find "$build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$build/Release" -mindepth 1 ! -name '*.node' -exec rm -rf {} +
done
find "$PREFIX" \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.o' -o -name '*.gyp' -o -name '*.gypi' -o -name 'Makefile' \) -type f -delete
find "$PREFIX" -type d -empty -delete

# Root owns everything, nobody else writes it (the image runs as uid 65532).
chown -R 0:0 "$DEST/opt" 2>/dev/null || true
chmod -R u+rwX,go+rX,go-w "$DEST/opt"
