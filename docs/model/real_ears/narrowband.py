"""Chunks of held-out voices as recorded (16 kHz) and as an 8 kHz recording delivers them (to
8 kHz and back with soxr HQ, what diarize does to an 8 kHz file): DER at collar 0.25.

  PYTHONPATH=. python docs/model/real_ears/narrowband.py --split=val --ls-bank=banks/ls-train EXPORT
  PYTHONPATH=. python docs/model/real_ears/narrowband.py --split=test \
      --ls-bank=banks/ls-test-other --so-bank=banks/so-test EXPORT

--split=val: the default bank's and the LibriSpeech train-clean-100 bank's val splits (for
choosing); --split=test: the default bank's test split and whole banks of held-out voices.
"""
import argparse
import json

import numpy as np

from drzjax import audio
from drzjax import diarize
from drzjax import scoring


def narrowband(x, rate=16000, phone=8000):
  """x through an 8 kHz recording: float32, same length."""
  nb = audio.resample(audio.resample(x, rate, phone), phone, rate)
  return np.pad(nb, (0, max(0, len(x) - len(nb))))[:len(x)].astype(np.float32)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--split", choices=("val", "test"), required=True)
  p.add_argument("--ls-bank", required=True)
  p.add_argument("--so-bank", default="", help="(test) speechocean762 test bank")
  p.add_argument("--num", type=int, default=100)
  p.add_argument("models", nargs="+", help="export directories or training runs")
  a = p.parse_args(argv)
  split = "val" if a.split == "val" else None  # None: the default bank's test split, banks whole
  sets = [("espeak", None), ("ls", a.ls_bank)] + ([("so", a.so_bank)] if a.so_bank else [])
  for model in a.models:
    d = diarize.Diarizer.load(model)
    row = {}
    for name, path in sets:
      mixtures, _ = scoring.heldout_mixtures(d.config, a.num, bank_path=path, split=split)
      r, _ = scoring.score_synthetic(d.params, d.model, mixtures, collar=0.25)
      row[name] = round(r["overall"]["der"], 4)
      for m in mixtures:
        m.audio[:] = narrowband(m.audio)
      r, _ = scoring.score_synthetic(d.params, d.model, mixtures, collar=0.25)
      row[name + "_8k"] = round(r["overall"]["der"], 4)
    print(model, json.dumps(row), flush=True)


if __name__ == "__main__":
  main()
