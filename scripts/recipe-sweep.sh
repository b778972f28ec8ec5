#!/usr/bin/env bash
# Recipe sweep for the shipped tiny model (docs/experiments.md): every line
# of RUNS_FILE is `NAME --set key=value ...` (extra `wordle-grpo train` settings on top of
# multi_turn from the shipped model). All runs start together, each is stopped after TRAIN_S
# seconds (Ctrl-C semantics: it saves a checkpoint), then its latest checkpoint plays all 2,315
# answers and the held-out secrets greedily. One RESULT line per run.
#
#   TRAIN_S=600 THREADS=1 bash scripts/recipe-sweep.sh scripts/recipe-runs/sweep2.txt
#
# Run as many lines at once as the machine has cores / THREADS.
set -u
cd "$(dirname "$0")/.."
RUNS_FILE=${1:?usage: recipe-sweep.sh RUNS_FILE}
TRAIN_S=${TRAIN_S:-600}
THREADS=${THREADS:-1}
OUT_DIR=${OUT_DIR:-runs/recipe-sweep}
# The start model (default: the shipped one).
MODEL=${MODEL:-models/wordle-tiny}
CLI=(node dist/src/cli/main.js)
export OMP_NUM_THREADS=$THREADS
mkdir -p "$OUT_DIR"
# BASE=default: the first recipe runs' settings over the default preset; BASE=tiny: the tiny preset as it
# stands, each line's --set on top. Either way the run is time-boxed (max_steps far away).
BASE=${BASE:-default}
# Where the evaluations run (a GPU makes them seconds).
EVAL_DEVICE=${EVAL_DEVICE:-cpu}
if [[ "$BASE" == tiny ]]; then
  common=(--model "$MODEL" --preset tiny --max-steps 100000 --threads "$THREADS" --set eval.games=0 --set device=cpu
    --set logging_steps=5 --set save_steps=10 --no-final-eval)
else
  common=(--model "$MODEL" --preset default --max-steps 100000 --threads "$THREADS" --set dtype=float32
    --set mode=multi_turn --set prompt_template=tiny --set max_completion_length=8
    --set per_device_train_batch_size=256 --set eval.games=0 --set logging_steps=5 --set save_steps=10
    --set lora.dropout=0 --set warmup_steps=3)
fi

one() {
  local name=$1
  shift
  local dir=$OUT_DIR/$name
  timeout -s INT -k 20 "$TRAIN_S" "${CLI[@]}" train "${common[@]}" --output "$dir" "$@" >"$dir.train.log" 2>&1
  local ck
  ck=$(ls -d "$dir"/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1)
  "${CLI[@]}" eval --model "$MODEL" --adapter "$ck" --device "$EVAL_DEVICE" --set all --set held-out --batch-size 2400 \
    --max-new-tokens 8 --no-baselines --json >"$dir.eval.json" 2>"$dir.eval.err"
  node -e '
    const fs = require("fs");
    const [name, ck, evalFile, metricsFile] = process.argv.slice(1);
    const rows = fs.readFileSync(metricsFile, "utf8").trim().split("\n").map(JSON.parse).filter((r) => "loss" in r);
    const last = rows[rows.length - 1] ?? {};
    const pct = (x) => (x === null || x === undefined ? "-" : `${(100 * x).toFixed(1)}%`);
    const sets = JSON.parse(fs.readFileSync(evalFile, "utf8")).sets
      .map((s) => `${s.set} win ${pct(s.summary.winRate)} invalid ${pct(s.summary.invalidRate)}`).join(" | ");
    const greedy = last["running/games/greedy_win_rate"];
    console.log(`RESULT ${name} ${ck.split("/").pop()} sampled win ${pct(last["running/games/win_rate"])}${greedy === undefined ? "" : ` greedy ${pct(greedy)}`} :: ${sets}`);
  ' "$name" "$ck" "$dir.eval.json" "$dir/metrics.jsonl"
}

while read -r name args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  # shellcheck disable=SC2086 # the settings are meant to split into words
  one "$name" $args &
done <"$RUNS_FILE"
wait
