#!/usr/bin/env bash
# Prints the path of a Node.js binary of major version $1 (22, 24, …) for this machine, or for the architecture $2
# (arm64: run it with qemu-aarch64-static, native-test/native-helper-arm64.test.ts), from the npm package
# node-linux-<arch>@<major> (the official binary; no download from anywhere but the npm registry). Installed once
# into a cache outside the repository ($RAA_NODE_CACHE, else $XDG_CACHE_HOME/roles-anywhere-agent/node, else
# ~/.cache/…), reused afterwards; concurrent runs wait for each other. Non-interactive (CI=true, no stdin).
set -euo pipefail
major="${1:?usage: node-release.sh MAJOR [ARCH]}"
host="$(node -p process.arch)"
arch="${2:-$host}"
cache="${RAA_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/roles-anywhere-agent/node}"
dir="$cache/$major$([ "$arch" = "$host" ] || echo "-$arch")"
bin="$dir/node_modules/node-linux-$arch/bin/node"
mkdir -p "$dir"

# A binary of another architecture cannot run here: its package's version is asked instead.
version() { if [ "$arch" = "$host" ]; then "$bin" -p process.versions.node; else node -p "require('$dir/node_modules/node-linux-$arch/package.json').version"; fi; }
is_wanted() { [ -x "$bin" ] && [ "$(version 2>/dev/null | cut -d. -f1)" = "$major" ]; }
# npm refuses a package for another CPU unless forced (its --cpu applies to optional dependencies only).
force=()
[ "$arch" = "$host" ] || force=(--force)

(
  flock 9
  if ! is_wanted; then
    # No package.json of its own: npm would otherwise walk up and install into an enclosing project.
    [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --ignore-scripts "${force[@]}" "node-linux-$arch@$major" </dev/null >&2
  fi
) 9>"$dir.lock"
is_wanted || { echo "node-release.sh: no Node.js $major at $bin" >&2; exit 1; }
echo "$bin"
