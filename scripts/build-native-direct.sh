#!/usr/bin/env bash
# Builds native/build/Release/wordle_torch.node with g++ alone, for machines without node-gyp or
# network (e.g. a rented GPU box: see scripts/cuda-check.sh). Same flags as native/binding.gyp: the
# libtorch ones come from native/find-libtorch.cjs, the rest are node-gyp's Release defaults.
# Each source compiles in its own background job (libtorch headers make every file slow), then one link.
#
#   NODE_INCLUDE=/dir/with/node_api.h   Node-API headers (default /usr/include/node)
#   OUT_NODE=path/to/wordle_torch.node  where the addon goes (default native/build/Release/wordle_torch.node)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NATIVE="$ROOT/native"
NODE_INCLUDE="$(cd "${NODE_INCLUDE:-/usr/include/node}" && pwd)"
OUT_NODE="$(realpath -m "${OUT_NODE:-$NATIVE/build/Release/wordle_torch.node}")"
OBJ_DIR="$(dirname "$OUT_NODE")/obj.direct"
[[ -f "$NODE_INCLUDE/node_api.h" ]] || { echo "build-native-direct: $NODE_INCLUDE/node_api.h not found (set NODE_INCLUDE)" >&2; exit 1; }

cd "$NATIVE"
# Each query may `import torch` in python3 (seconds with CUDA wheels), so all of them run at once.
QUERIES="$(mktemp -d)"
trap 'rm -rf "$QUERIES"' EXIT
for q in describe include defines cflags ldflags libs; do node find-libtorch.cjs "$q" >"$QUERIES/$q" & done
wait
for q in describe include defines cflags ldflags libs; do
  [[ -s "$QUERIES/$q" ]] || { echo "build-native-direct: node find-libtorch.cjs $q failed" >&2; node find-libtorch.cjs "$q"; exit 1; }
done
cat "$QUERIES/describe"
read -r -a INCLUDES <"$QUERIES/include"
read -r -a DEFINES <"$QUERIES/defines"
read -r -a CFLAGS <"$QUERIES/cflags"
read -r -a LDFLAGS <"$QUERIES/ldflags"
read -r -a LIBS <"$QUERIES/libs"
ADDON_API="$(node -p "require('path').resolve(require('node-addon-api').include_dir)")"

CXXFLAGS=(
  -fPIC -pthread -m64 -O2 -fexceptions -frtti
  -Wall -Wextra -Wno-unused-parameter -Wno-deprecated-declarations
  "${CFLAGS[@]}"
  -DNODE_GYP_MODULE_NAME=wordle_torch -DBUILDING_NODE_EXTENSION -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE
  "${DEFINES[@]/#/-D}"
  -I"$NODE_INCLUDE" -I"$ADDON_API" "${INCLUDES[@]/#/-I}"
)
echo "g++ ${CXXFLAGS[*]}"

mkdir -p "$OBJ_DIR"
pids=()
objs=()
for src in src/*.cc; do
  obj="$OBJ_DIR/$(basename "${src%.cc}").o"
  objs+=("$obj")
  g++ "${CXXFLAGS[@]}" -c "$src" -o "$obj" &
  pids+=("$!")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "build-native-direct: compiling ${objs[$i]} failed" >&2; failed=1; }
done
[[ $failed == 0 ]] || exit 1

g++ -shared -pthread -rdynamic -m64 -o "$OUT_NODE" "${objs[@]}" "${LDFLAGS[@]}" "${LIBS[@]}"
echo "built $OUT_NODE"
