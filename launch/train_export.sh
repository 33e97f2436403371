#!/usr/bin/env bash
# Train, then export the parameters as a shippable model (the recipe of drzjax/pretrained/base,
# MODEL.md). Any --config.* override is passed to training.
#
#   launch/train_export.sh WORKDIR OUT [--config=configs/base.py[:variant]] [--config.x.y=v ...]
#
# Rerunning resumes the run from WORKDIR (set --config.train.max_minutes to cap one sitting).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 WORKDIR OUT [--config.section.key=value ...]" >&2
  exit 2
fi
workdir=$1
out=$2
shift 2
config=configs/base.py
if [ $# -gt 0 ] && [[ $1 == --config=* ]]; then
  config=${1#--config=}
  shift
fi
python -m drzjax.main --config="$config" --workdir="$workdir" "$@"
python -m drzjax.export --workdir="$workdir" --out="$out" --note="launch/train_export.sh $config $*"
