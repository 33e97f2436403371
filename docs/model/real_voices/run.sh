#!/bin/bash
# Fine-tune ablations (MODEL.md, "Real voices"): each variant continues a model (INIT) for STEPS
# steps of batch 8 on this machine, then is scored on real (LibriSpeech test-other) and
# espeak-ng test voices.
#
# usage: REAL_BANK=BANK [OUT=DIR INIT=MODEL STEPS=600 ESPEAK_BANK=BANK] run.sh NAME [overrides...]
#   NAME         writes OUT/NAME (the run), OUT/NAME.{train,real,espeak}.log, OUT/NAME.{real,espeak}.json
#   overrides    --config.* for training; the word CHANNELS stands for the channel dials below
#   REAL_BANK    the real test voices: python -m drzjax.bank build --layout=librispeech
#                --source=.../LibriSpeech/test-other --out=BANK
#   OUT          default runs/real_voices
#   INIT         the model fine-tuned, default drzjax/pretrained/base (the table's rows started
#                from the espeak-only stage-1 export)
#   STEPS        default 600; 0 scores the shipped model as it is
#   ESPEAK_BANK  default ~/.cache/drzjax/tts-240x6-seed0 (the default bank, built by training)
# Relative paths are taken from the repository root.
set -euo pipefail
if [ $# -lt 1 ] || [ -z "${REAL_BANK:-}" ]; then
  echo "usage: REAL_BANK=BANK [OUT=DIR INIT=MODEL STEPS=600 ESPEAK_BANK=BANK] $0 NAME [overrides...]" >&2
  exit 2
fi
cd "$(dirname "$0")/../../.."
name=$1; shift
OUT=${OUT:-runs/real_voices}
W=$OUT/$name
STEPS=${STEPS:-600}
INIT=${INIT:-drzjax/pretrained/base}
ESPEAK_BANK=${ESPEAK_BANK:-$HOME/.cache/drzjax/tts-240x6-seed0}
mkdir -p "$OUT"
CH="--config.channel.eq_prob=0.5 --config.channel.reverb_prob=0.3 --config.channel.babble_prob=0.2 --config.channel.hum_prob=0.1 --config.channel.click_prob=0.1 --config.channel.breath_prob=0.3 --config.channel.floor_prob=0.8 --config.channel.telephone_prob=0.05"
args=()
for a in "$@"; do if [ "$a" = CHANNELS ]; then args+=($CH); else args+=("$a"); fi; done
M=()
if [ "$STEPS" -gt 0 ]; then
  python -m drzjax.main --config=configs/base.py --workdir="$W" \
    --config.train.init_from="$INIT" --config.train.steps="$STEPS" \
    --config.train.lr=2e-4 --config.train.warmup_steps=50 --config.train.eval_every=0 \
    --config.train.checkpoint_every=200 --config.train.log_every=50 ${args[@]+"${args[@]}"} \
    > "$W.train.log" 2>&1
  M=(--workdir="$W")
fi
python -m drzjax.evaluate ${M[@]+"${M[@]}"} --data=synthetic --bank="$REAL_BANK" --num=100 \
  --collar=0.25 --baseline --json="$W.real.json" > "$W.real.log" 2>&1
python -m drzjax.evaluate ${M[@]+"${M[@]}"} --data=synthetic --bank="$ESPEAK_BANK" --split=test \
  --num=100 --collar=0.25 --baseline --json="$W.espeak.json" > "$W.espeak.log" 2>&1
echo "$name done $(date)"
