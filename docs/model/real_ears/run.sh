#!/bin/bash
# One "Real ears" experiment: fine-tune the model in $FROM (default: the shipped model) with the
# shipped recipe (espeak-ng + LibriSpeech train voices, channels, silence dials), for at most
# $MINUTES minutes, export it and score it on every held-out set (score.py).
# usage: BANKS=DIR AMI=DIR RUNS=DIR docs/model/real_ears/run.sh NAME [--config.KEY=VALUE ...]
#   BANKS holds ls-train (train-clean-100), ls-test-other, so-test, sc-test (python -m drzjax.bank
#   build, MODEL.md "Real ears"; TRAIN_BANK names another one of BANKS to train on); AMI is the ami-dev folder (wav + rttm + uem); RUNS gets
#   NAME/ (the run), NAME.export/, NAME.train.log and scores.jsonl.
set -euo pipefail
if [ $# -lt 1 ] || [ -z "${BANKS:-}" ] || [ -z "${AMI:-}" ] || [ -z "${RUNS:-}" ]; then
  echo "usage: BANKS=DIR AMI=DIR RUNS=DIR $0 NAME [--config.KEY=VALUE ...]" >&2
  exit 2
fi
cd "$(dirname "$0")/../../.."
name=$1; shift
W=$RUNS/$name
python -m drzjax.main --config=configs/base.py --workdir="$W" \
  --config.train.init_from="${FROM:-drzjax/pretrained/base}" --config.train.steps="${STEPS:-1200}" \
  --config.train.max_minutes="${MINUTES:-20}" --config.train.lr=2e-4 \
  --config.train.warmup_steps=50 --config.train.eval_every=0 --config.train.log_every=25 \
  --config.train.checkpoint_every=100 \
  --config.bank.path="default,$BANKS/${TRAIN_BANK:-ls-train}" --config.bank.weights=1,1 "$@" \
  > "$W.train.log" 2>&1
python -m drzjax.export --workdir="$W" --out="$W.export" --note="real ears: $name"
PYTHONPATH=. python docs/model/real_ears/score.py --model="$W.export" --ami="$AMI" \
  --bank ls="$BANKS/ls-test-other" --bank so="$BANKS/so-test" --bank sc="$BANKS/sc-test" \
  --out="$RUNS/scores.jsonl" | tail -1
