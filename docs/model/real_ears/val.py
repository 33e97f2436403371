"""Validation voices for choosing between models (never trained on, never reported as test):
the default bank's val split (espeak-ng) and a LibriSpeech train-clean-100 bank's val split;
100 ten-second mixtures each, DER at collar 0.25.

  PYTHONPATH=. python docs/model/real_ears/val.py --ls-bank=banks/ls-train EXPORT [EXPORT ...]
"""
import argparse
import json

from drzjax import diarize
from drzjax import scoring


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--ls-bank", required=True, help="bank built from train-clean-100 (val split)")
  p.add_argument("--num", type=int, default=100)
  p.add_argument("models", nargs="+", help="export directories or training runs")
  a = p.parse_args(argv)
  for model in a.models:
    d = diarize.Diarizer.load(model)
    row = {}
    for name, path in (("espeak_val", None), ("ls_val", a.ls_bank)):
      mixtures, _ = scoring.heldout_mixtures(d.config, a.num, bank_path=path, split="val")
      r, _ = scoring.score_synthetic(d.params, d.model, mixtures, collar=0.25)
      row[name] = round(r["overall"]["der"], 4)
    print(model, json.dumps(row), flush=True)


if __name__ == "__main__":
  main()
