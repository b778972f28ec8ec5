#!/usr/bin/env bash
# Engine tests and benches on a rented GPU machine that has no network and no node: it gets this
# git tree plus the carried, git-ignored .device/ bundle (made by scripts/make-device-bundle.sh),
# builds the addon with g++ against python3's CUDA PyTorch, then runs tests and benches on cuda.
#
#   OUT=/some/dir bash scripts/cuda-check.sh          # logs + summary.txt land in $OUT
#   CUDA_CHECK_DEVICE=cpu OUT=/tmp/x bash scripts/cuda-check.sh   # the same steps on the CPU (dry run)
#   EXTRA_CPU_JOB=path/to/job.sh ...                  # also runs that script on the idle cores
#
# Each step has its own timeout and log; a failing step never stops the script. summary.txt gets one
# line per step: name, exit code (124 = timed out), seconds. At most 8 files are written to $OUT
# (setup.log, tests-engine.log, tests-model.log, bench-engine.log, bench-model.log, bench-grpo.log,
# extra.log, summary.txt) because that is all a device run hands back.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-/tmp/cuda-check-out}"
DEVICE="${CUDA_CHECK_DEVICE:-cuda}"
NODE_DIR="${NODE_DIR:-/tmp/node}"
SUMMARY="$OUT/summary.txt"
mkdir -p "$OUT"
STARTED=$(date +%s)
echo "cuda-check on $(hostname) at $(date -u +%FT%TZ), device $DEVICE, $(nproc) cores" >"$SUMMARY"

# Started first so the CPU experiment overlaps everything else; waited for at the very end.
EXTRA_PID=""
if [[ -n "${EXTRA_CPU_JOB:-}" ]]; then
  timeout -k 10 420 bash "$EXTRA_CPU_JOB" >"$OUT/extra.log" 2>&1 &
  EXTRA_PID=$!
  echo "extra job $EXTRA_CPU_JOB started (pid $EXTRA_PID)" >>"$SUMMARY"
fi

# Device time is scarce: every step's timeout is also cut to what is left of this overall budget
# (seconds from the start; the extra CPU job keeps its own 420 s limit).
BUDGET="${CUDA_CHECK_BUDGET:-345}"

# step NAME LOG SECONDS CMD...: runs CMD under a timeout, appends its output to $OUT/LOG, echoes the
# last lines (a device run returns only the tail of stdout), records the exit code in summary.txt.
step() {
  local name=$1 log=$2 limit=$3
  shift 3
  local t0 rc left
  t0=$(date +%s)
  left=$((BUDGET - (t0 - STARTED)))
  if ((left < 10)); then
    printf '%-14s skipped: the %s s budget is spent\n' "$name" "$BUDGET" >>"$SUMMARY"
    return 0
  fi
  ((limit > left)) && limit=$left
  echo "=== [$name] $(date -u +%T) timeout ${limit}s: $*" >>"$OUT/$log"
  timeout -k 10 "$limit" "$@" >>"$OUT/$log" 2>&1
  rc=$?
  echo "=== [$name] exit $rc after $(($(date +%s) - t0)) s" >>"$OUT/$log"
  printf '%-14s rc=%-3s %4ss\n' "$name" "$rc" "$(($(date +%s) - t0))" >>"$SUMMARY"
  echo "--- $name: rc=$rc ($(($(date +%s) - t0)) s); last lines of $log:"
  tail -n 6 "$OUT/$log" | cut -c1-300
  return 0
}

# ---------------------------------------------------------------- 1-2. node, node_modules, dist; the addon
export PATH="$NODE_DIR/bin:$PATH"
step unpack setup.log 60 env NODE_DIR="$NODE_DIR" bash scripts/device-unpack.sh --no-build
if [[ -d .device/node-include ]]; then export NODE_INCLUDE="$ROOT/.device/node-include"; fi
step build setup.log "${CUDA_CHECK_BUILD_TIMEOUT:-150}" bash scripts/build-native-direct.sh

# ---------------------------------------------------------------- 3. the GPU and the addon's view of it
if command -v nvidia-smi >/dev/null; then step nvidia-smi setup.log 20 nvidia-smi; fi
step addon setup.log 60 node -e '
  import("./dist/src/engine/index.js").then((e) => {
    const info = e.buildInfo();
    console.log(JSON.stringify(info));
    console.log(`cuda available ${e.cuda.isAvailable()}, devices ${e.cuda.deviceCount()}, default device ${e.getDefaultDevice()}`);
    const want = process.env.CUDA_CHECK_DEVICE ?? "cuda";
    const x = e.randn([256, 256], { device: want }).to("bfloat16");
    const y = x.matmul(x).float().sum().item();
    console.log(`bf16 256x256 matmul on ${want}: sum ${y}`);
    if (want === "cuda" && !e.cuda.isAvailable()) process.exit(3);
  });'

# ---------------------------------------------------------------- 4-5. tests with the default device
export WORDLE_DEVICE="$DEVICE"
step tests-engine tests-engine.log 90 node --test --test-reporter=spec dist/test/engine-*.test.js
# The model fixture tests: models load on WORDLE_DEVICE by default (src/model/transformer.ts).
step tests-model tests-model.log 120 node --test --test-reporter=spec dist/test/model-*.test.js

# ---------------------------------------------------------------- 6. benches (bf16 on the GPU)
if [[ "$DEVICE" == cpu ]]; then
  # A 2-core CPU needs minutes per figure: only prove each bench starts and prints its first line.
  BENCH_LIMIT=60
  ENGINE_ARGS=(--iters 1)
  MODEL_ARGS=(--repeats 1 --new-tokens 4 --prompt-tokens 16 --skip-lora)
  GRPO_ARGS=(--steps 1)
else
  BENCH_LIMIT=90
  ENGINE_ARGS=()
  MODEL_ARGS=(--threads 4)
  GRPO_ARGS=(--steps 3 --threads 4)
fi
step bench-engine bench-engine.log "$BENCH_LIMIT" node dist/bench/engine.js --device "$DEVICE" "${ENGINE_ARGS[@]}"
step bench-model bench-model.log "$BENCH_LIMIT" node dist/bench/model.js --device "$DEVICE" --dtype bfloat16 "${MODEL_ARGS[@]}"
step bench-grpo bench-grpo.log "$BENCH_LIMIT" node dist/bench/grpo-step.js --device "$DEVICE" --dtype bfloat16 "${GRPO_ARGS[@]}"

# ---------------------------------------------------------------- 8. the extra CPU job
if [[ -n "$EXTRA_PID" ]]; then
  t0=$(date +%s)
  wait "$EXTRA_PID"
  rc=$?
  printf '%-14s rc=%-3s %4ss (waited)\n' extra "$rc" "$(($(date +%s) - t0))" >>"$SUMMARY"
fi
echo "total $(($(date +%s) - STARTED)) s" >>"$SUMMARY"
echo "=== summary"
cat "$SUMMARY"
