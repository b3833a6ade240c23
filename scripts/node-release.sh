#!/usr/bin/env bash
# Prints the path of a Node.js binary of major version $1 (22, 24, …) for this machine, from the npm package
# node-linux-<arch>@<major> (the official binary; no download from anywhere but the npm registry). Installed once
# into a cache outside the repository ($RAA_NODE_CACHE, else $XDG_CACHE_HOME/roles-anywhere-agent/node, else
# ~/.cache/…), reused afterwards; concurrent runs wait for each other. Non-interactive (CI=true, no stdin).
set -euo pipefail
major="${1:?usage: node-release.sh MAJOR}"
arch="$(node -p process.arch)"
cache="${RAA_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/roles-anywhere-agent/node}"
dir="$cache/$major"
bin="$dir/node_modules/node-linux-$arch/bin/node"
mkdir -p "$dir"

is_wanted() { [ -x "$bin" ] && [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; }

(
  flock 9
  if ! is_wanted; then
    # No package.json of its own: npm would otherwise walk up and install into an enclosing project.
    [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --ignore-scripts "node-linux-$arch@$major" </dev/null >&2
  fi
) 9>"$dir.lock"
is_wanted || { echo "node-release.sh: no Node.js $major at $bin" >&2; exit 1; }
echo "$bin"
