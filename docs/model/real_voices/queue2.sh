#!/bin/bash
# Rows E and F of MODEL.md's "Real voices", after queue.sh (run.sh says what REAL_BANK, OUT ... are).
# usage: REAL_BANK=BANK LS_TRAIN_BANK=BANK KOKORO_BANK=BANK queue2.sh
set -euo pipefail
if [ -z "${LS_TRAIN_BANK:-}" ] || [ -z "${REAL_BANK:-}" ] || [ -z "${KOKORO_BANK:-}" ]; then
  echo "usage: REAL_BANK=BANK LS_TRAIN_BANK=BANK KOKORO_BANK=BANK $0" >&2
  exit 2
fi
while pgrep -f real_voices/queue.sh > /dev/null; do sleep 10; done
R="$(dirname "$0")/run.sh"
$R E_kokoro --config.bank.path=default,$KOKORO_BANK --config.bank.weights=1,1
$R F_all --config.bank.path=default,$LS_TRAIN_BANK,$KOKORO_BANK --config.bank.weights=1,1,0.5 CHANNELS
