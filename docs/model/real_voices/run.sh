#!/bin/bash
# Fine-tune ablations for issue 11: each variant continues the shipped model for STEPS steps of
# batch 8 on this CPU, then is scored on real (LibriSpeech test-other) and espeak-ng test voices.
# usage: run.sh NAME [config overrides...]
cd /work/main
name=$1; shift
W=/work/ablate/$name
STEPS=${STEPS:-600}
CH="--config.channel.eq_prob=0.5 --config.channel.reverb_prob=0.3 --config.channel.babble_prob=0.2 --config.channel.hum_prob=0.1 --config.channel.click_prob=0.1 --config.channel.breath_prob=0.3 --config.channel.floor_prob=0.8 --config.channel.telephone_prob=0.05"
args=()
for a in "$@"; do if [ "$a" = CHANNELS ]; then args+=($CH); else args+=("$a"); fi; done
if [ "$STEPS" -gt 0 ]; then
  python -m drzjax.main --config=configs/base.py --workdir=$W \
    --config.train.init_from=drzjax/pretrained/base --config.train.steps=$STEPS \
    --config.train.lr=2e-4 --config.train.warmup_steps=50 --config.train.eval_every=0 \
    --config.train.checkpoint_every=200 --config.train.log_every=50 "${args[@]}" > $W.train.log 2>&1 || exit 1
  M="--workdir=$W"
else
  M=""
fi
python -m drzjax.evaluate $M --data=synthetic --bank=/work/banks/ls-test-other --num=100 --collar=0.25 --baseline --json=$W.real.json > $W.real.log 2>&1
python -m drzjax.evaluate $M --data=synthetic --bank=$HOME/.cache/drzjax/tts-240x6-seed0 --split=test --num=100 --collar=0.25 --baseline --json=$W.espeak.json > $W.espeak.log 2>&1
echo "$name done $(date)"
