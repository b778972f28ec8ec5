#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system packages, npm packages, the native
# addon and the TypeScript build. Safe to run again (each step is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_apt=()
# libtorch for the tensor engine (Debian 12: 1.13.1). Keep recommends: libopenblas0 makes fp32 fast.
[ -e /usr/include/torch/csrc/api/include/torch/torch.h ] || [ -n "${LIBTORCH:-}" ] || need_apt+=(libtorch-dev)
# gloo's headers: the addon compiles torch.distributed's CPU backend (ProcessGroupGloo) against them.
[ -e /usr/include/gloo/algorithm.h ] || [ -n "${LIBTORCH:-}" ] || need_apt+=(libgloo-dev)
# libtorch-dev only recommends OpenBLAS; without it fp32 matmuls use the reference BLAS (~50x slower).
if [ -z "${LIBTORCH:-}" ] && command -v dpkg >/dev/null 2>&1 && ! dpkg -s libopenblas0 >/dev/null 2>&1; then
  need_apt+=(libopenblas0)
fi
# Headless Chromium for the dashboard's browser test.
if [ "${WORDLE_GRPO_SKIP_BROWSER:-}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund

echo "setup: building the native addon"
npm run --silent build:native >/dev/null

echo "setup: compiling TypeScript"
npm run --silent build
echo "setup: done"
