#!/usr/bin/env bash
# Learning curves of `wordle-grpo sft`, to pick a start model (docs/sft.md): every line of
# RUNS_FILE is `NAME sft-flags...`; all lines train at once on $DEVICE for MINUTES, saving a
# snapshot every SNAPSHOT_STEPS steps; then every snapshot plays all 2,315 answers and the held-out
# secrets greedily (EVAL_JOBS at a time). Writes $OUT_DIR/curve.jsonl (one row per snapshot: run,
# step, games, win/invalid rates), prints it as a table, and packs, per run, the snapshots whose win
# rate over all answers is nearest PACK_TARGETS (none above PACK_MAX; at most PACK_BYTES of weights)
# into $OUT_DIR/snapshots-NAME.tar.xz: the candidates for a start model.
#
#   DEVICE=cuda MINUTES=3 bash scripts/sft-curve.sh scripts/sft-runs/curve1.txt
set -u
cd "$(dirname "$0")/.."
RUNS_FILE=${1:?usage: sft-curve.sh RUNS_FILE}
DEVICE=${DEVICE:-cpu}
MINUTES=${MINUTES:-3}
SNAPSHOT_STEPS=${SNAPSHOT_STEPS:-100}
EVAL_JOBS=${EVAL_JOBS:-4}
OUT_DIR=${OUT_DIR:-runs/sft-curve}
PACK_TARGETS=${PACK_TARGETS:-0.55,0.50,0.58,0.45}
PACK_MAX=${PACK_MAX:-0.60}
PACK_BYTES=${PACK_BYTES:-15000000}
CLI=(node dist/src/cli/main.js)
mkdir -p "$OUT_DIR"

while read -r name flags; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  budget=(--minutes "$MINUTES")
  [[ " $flags " == *" --steps "* ]] && budget=() # a line with its own step budget
  # shellcheck disable=SC2086 # flags are words on purpose
  "${CLI[@]}" sft --device "$DEVICE" "${budget[@]}" --snapshot-steps "$SNAPSHOT_STEPS" \
    --out "$OUT_DIR/$name/final" --run-dir "$OUT_DIR/$name" $flags >"$OUT_DIR/$name.sft.log" 2>&1 &
done <"$RUNS_FILE"
wait
echo "trained: $(date -u +%T)"

eval_one() {
  local snap=$1
  "${CLI[@]}" eval --model "$snap" --device "$DEVICE" --set all --set held-out --batch-size 2400 \
    --max-new-tokens 8 --no-baselines --json >"$snap/eval.json" 2>"$snap/eval.err"
}
# Evaluations start no later than EVAL_BUDGET_S seconds after the first (device time is scarce).
EVAL_BUDGET_S=${EVAL_BUDGET_S:-100000}
eval_started=$(date +%s)
running=0
# Earliest snapshots first (they are the candidates when the budget runs out), then the finals.
for snap in $(for f in "$OUT_DIR"/*/snapshots/step-*; do echo "${f##*-} $f"; done | sort -n | cut -d' ' -f2) "$OUT_DIR"/*/final; do
  [[ -f "$snap/config.json" ]] || continue
  (($(date +%s) - eval_started > EVAL_BUDGET_S)) && { echo "eval budget spent: $snap and later not evaluated"; break; }
  eval_one "$snap" &
  running=$((running + 1))
  if ((running >= EVAL_JOBS)); then wait -n; running=$((running - 1)); fi
done
wait
echo "evaluated: $(date -u +%T)"

node - "$OUT_DIR" "$PACK_TARGETS" "$PACK_MAX" "$PACK_BYTES" <<'JS'
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const [dir, targets, hi, maxBytes] = [process.argv[2], process.argv[3].split(",").map(Number), Number(process.argv[4]), Number(process.argv[5])];
const rows = [];
for (const run of fs.readdirSync(dir)) {
  const runDir = path.join(dir, run);
  if (!fs.statSync(runDir).isDirectory()) continue;
  const snaps = fs.existsSync(path.join(runDir, "snapshots"))
    ? fs.readdirSync(path.join(runDir, "snapshots")).map((s) => path.join(runDir, "snapshots", s))
    : [];
  snaps.push(path.join(runDir, "final"));
  for (const snap of snaps) {
    const evalFile = path.join(snap, "eval.json");
    if (!fs.existsSync(evalFile)) continue;
    let ev;
    try { ev = JSON.parse(fs.readFileSync(evalFile, "utf8")); } catch { continue; }
    const training = JSON.parse(fs.readFileSync(path.join(snap, "training.json"), "utf8"));
    const set = (name) => ev.sets.find((s) => s.set === name)?.summary;
    const all = set("all"), held = set("held-out");
    rows.push({ run, snapshot: path.basename(snap), step: training.steps, games: training.games_seen,
      seconds: training.seconds_trained, all_win: all.winRate, all_invalid: all.invalidRate,
      all_consistent: all.consistentRate, all_guesses: all.meanGuesses,
      held_win: held.winRate, held_invalid: held.invalidRate, dir: snap });
  }
}
rows.sort((a, b) => a.run.localeCompare(b.run) || a.step - b.step);
fs.writeFileSync(path.join(dir, "curve.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
const pct = (x) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
for (const r of rows)
  console.log(`${r.run.padEnd(10)} ${String(r.step).padStart(6)} steps ${String(r.games).padStart(8)} games ${String(r.seconds).padStart(4)} s | all ${pct(r.all_win)} inv ${pct(r.all_invalid)} cons ${pct(r.all_consistent)} ${r.all_guesses === null ? "-" : r.all_guesses.toFixed(2)} | held ${pct(r.held_win)} inv ${pct(r.held_invalid)}`);
// Per run, the snapshots nearest the targets (below PACK_MAX), nearest first, while the tar stays
// under PACK_BYTES (weights barely compress): the candidates a start model is picked from.
for (const run of [...new Set(rows.map((r) => r.run))]) {
  const pool = rows.filter((r) => r.run === run && r.all_win !== null && r.all_win <= hi);
  const picked = [];
  let bytes = 0;
  for (const target of targets) {
    const best = pool.filter((r) => !picked.includes(r)).sort((a, b) => Math.abs(a.all_win - target) - Math.abs(b.all_win - target))[0];
    if (!best) continue;
    const size = fs.statSync(path.join(best.dir, "model.safetensors")).size;
    if (bytes + size > maxBytes) continue;
    picked.push(best);
    bytes += size;
  }
  if (picked.length === 0) continue;
  const tar = path.resolve(dir, `snapshots-${run}.tar.xz`);
  execFileSync("tar", ["-cJf", tar, "--exclude=eval.err", ...picked.map((r) => path.relative(dir, r.dir))], { cwd: dir });
  console.log(`packed ${picked.map((r) => `${r.snapshot} (${pct(r.all_win)})`).join(", ")} of ${run} into ${tar} (${fs.statSync(tar).size} bytes)`);
}
JS
