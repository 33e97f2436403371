#!/bin/bash
# Rows A-D of MODEL.md's "Real voices", one after another (run.sh says what REAL_BANK, OUT ... are).
# usage: REAL_BANK=BANK LS_TRAIN_BANK=BANK queue.sh
set -euo pipefail
if [ -z "${LS_TRAIN_BANK:-}" ] || [ -z "${REAL_BANK:-}" ]; then
  echo "usage: REAL_BANK=BANK LS_TRAIN_BANK=BANK $0" >&2
  exit 2
fi
R="$(dirname "$0")/run.sh"
$R A_espeak
$R B_real --config.bank.path=default,$LS_TRAIN_BANK --config.bank.weights=1,1
$R C_channels CHANNELS
$R D_real_channels --config.bank.path=default,$LS_TRAIN_BANK --config.bank.weights=1,1 CHANNELS
