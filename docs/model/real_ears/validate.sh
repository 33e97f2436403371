#!/bin/bash
# The validation suite for choosing between models: validation voices only (never trained on,
# never reported as test figures), one fixed set of files for every candidate. The seventh
# session's choices hung on 5-file meeting sets; here every long set has 20 files.
#
#   bash docs/model/real_ears/validate.sh MODEL OUT_DIR LS_BANK
#
# MODEL: an export or a training run; LS_BANK: a bank built from LibriSpeech train-clean-100
# (its val split is used). Writes OUT_DIR/*.json (evaluate's scores), OUT_DIR/chunks.txt,
# OUT_DIR/narrowband.txt and OUT_DIR/summary.json: DER % per set (collar 0.25) and their sum,
# the criterion: chunks (espeak, LibriSpeech), the same through 8 kHz, 2-minute conversations
# of 3 and 4 voices, 10-minute meetings of 12 voices, each for both banks — 12 figures.
# ~25 minutes per model on a 2-core CPU.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: bash docs/model/real_ears/validate.sh MODEL OUT_DIR LS_BANK" >&2
  exit 2
fi
MODEL=$1; OUT=$2; LS=$3
cd "$(dirname "$0")/../../.."
export PYTHONPATH=.
mkdir -p "$OUT"
# 10 s chunks, 300 per bank, and 100 per bank through 8 kHz (the narrowband failure).
python docs/model/real_ears/val.py --num=300 --ls-bank="$LS" "$MODEL" > "$OUT/chunks.txt"
python docs/model/real_ears/narrowband.py --split=val --ls-bank="$LS" "$MODEL" > "$OUT/narrowband.txt"
# Long recordings through diarize's chunked path: 2-minute conversations of 3 and of 4 voices,
# 10-minute meetings of 12; 20 files each.
for bank in espeak ls; do
  b=(); [ "$bank" = ls ] && b=(--bank="$LS")
  for set in "120 3" "120 4" "600 12"; do
    read -r secs voices <<< "$set"
    python -m drzjax.evaluate --workdir="$MODEL" --data=synthetic "${b[@]}" --split=val \
      --secs="$secs" --mix-speakers="$voices" --num=20 --collar=0.25 \
      --json="$OUT/${bank}_${secs}s_${voices}v.json" > /dev/null
  done
done
python - "$OUT" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
rows = {}
for line in open(os.path.join(out, "chunks.txt")):
  rows.update({f"chunks_{k}": 100 * v for k, v in json.loads(line.split(" ", 1)[1]).items()})
for line in open(os.path.join(out, "narrowband.txt")):
  rows.update({f"8khz_{k[:-3]}": 100 * v for k, v in json.loads(line.split(" ", 1)[1]).items()
               if k.endswith("_8k")})
for path in sorted(glob.glob(os.path.join(out, "*_*s_*v.json"))):
  rows[os.path.basename(path)[:-5]] = 100 * json.load(open(path))["overall"]["der"]
rows = {k: round(v, 2) for k, v in rows.items()}
rows["sum"] = round(sum(rows.values()), 2)
json.dump(rows, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps(rows))
EOF
