#!/usr/bin/env bash
# Train on every host of a Cloud TPU pod slice: the same command on all workers.
#
#   launch/tpu_pod.sh NAME ZONE configs/base.py:medium [--workdir=/mnt/runs/medium] [--config.x=y ...]
#
# Assumes the repo is at ~/drzjax on every worker (SETUP=1 copies this checkout there and
# installs jax[tpu] + requirements first). The workdir must be storage all hosts share (e.g. a
# gcsfuse-mounted bucket or NFS): Orbax writes one checkpoint from all hosts. jax.distributed
# finds the coordinator itself on a TPU pod (drzjax/sharding.py), so there are no extra flags.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 NAME ZONE CONFIG [flags...]" >&2
  exit 2
fi
NAME=$1 ZONE=$2 CONFIG=$3
shift 3
SSH=(gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all)
if [ "${SETUP:-0}" = 1 ]; then
  gcloud compute tpus tpu-vm scp --recurse --zone="$ZONE" --worker=all "$(dirname "$0")/.." \
    "$NAME":~/drzjax
  "${SSH[@]}" --command="cd ~/drzjax && pip install -r requirements.txt 'jax[tpu]==0.10.2'"
fi
"${SSH[@]}" --command="cd ~/drzjax && python -m drzjax.main --config=$CONFIG $*"
