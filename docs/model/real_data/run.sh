#!/bin/bash
# The real-data fine-tuning demonstration (README.md beside this file), from the repo root:
#   PYTHONPATH=. python docs/model/real_data/make_recordings.py --bank=/work/banks/so-test --out=/work/real-demo
#   nohup nice -n 10 docs/model/real_data/run.sh > /work/runs/real-demo.log 2>&1 &
# Scores the shipped model on DATA/heldout, then fine-tunes it on DATA/train mixed half and half
# (REAL_WEIGHT) with synthesis from the shipped model's own banks and recipe (BANK: its meta.json),
# LEGS legs of MINUTES minutes each (a rerun resumes), scoring after each leg. The control:
#   REAL_WEIGHT=0 RUN=/work/runs/real-demo-control OUT=docs/model/real_data/scores_control run.sh
set -eu
DATA=${DATA:-/work/real-demo}
RUN=${RUN:-/work/runs/real-demo}
OUT=${OUT:-docs/model/real_data/scores}
BANK=${BANK:-default,/work/banks/ls-train}
REAL_WEIGHT=${REAL_WEIGHT:-0.5}
LEGS=${LEGS:-3}
MINUTES=${MINUTES:-5}
mkdir -p "$OUT"

score() {  # $1: a name for the json files; the rest: --workdir=RUN, or nothing (shipped model)
  for collar in 0.25 0; do
    python -m drzjax.evaluate --data="$DATA/heldout" --collar=$collar --baseline \
      --json="$OUT/$1_collar$collar.json" "${@:2}"
  done
  PYTHONPATH=. python docs/model/real_data/chunks.py --data="$DATA/heldout" \
    --json="$OUT/$1_chunks.json" "${@:2}"
}

[ -e "$OUT/untuned_collar0.json" ] || score untuned
for leg in $(seq 1 "$LEGS"); do
  python -m drzjax.main --config=configs/base.py --workdir="$RUN" \
    --config.train.init_from=drzjax/pretrained/base \
    --config.bank.path="$BANK" --config.bank.weights=1,1 \
    --config.data.real_dir="$DATA/train" --config.data.real_weight="$REAL_WEIGHT" \
    --config.data.real_val_fraction=0 \
    --config.train.steps=2000 --config.train.lr=2e-4 --config.train.warmup_steps=50 \
    --config.train.max_minutes="$MINUTES" --config.train.checkpoint_every=200 \
    --config.train.eval_every=0 --config.train.log_every=25
  step=$(ls "$RUN/checkpoints" | grep -E '^[0-9]+$' | sort -n | tail -1)
  score "step$step" --workdir="$RUN"
done
