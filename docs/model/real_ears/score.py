"""One model, every held-out set of the "Real ears" experiments, one JSON line.

  PYTHONPATH=. python docs/model/real_ears/score.py --model=WORKDIR_OR_EXPORT --ami=DIR \
      --bank ls=BANK --bank so=BANK --bank sc=BANK [--num=100] [--out=FILE]

- ami: a folder of real recordings (*.wav + *.rttm + *.uem), DER at collar 0 within the UEM,
  per file and overall, beside "oracle speech, one label" and "all one label";
- each --bank NAME=PATH: `--num` synthetic conversations of that bank's voices (all of them:
  point it at held-out speakers), collar 0.25, beside the one-label baseline;
- espeak: the default bank's test split, the same way;
- probes: tests/test_silence.py's no-invented-speech probes (speech seconds written on each).
The model is a training run (its newest checkpoint) or an export directory.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np


def oracle_one_label(refs):
  return {u: [(s, e, "X") for s, e, _ in segs] for u, segs in refs.items()}


def all_one_label(uems, refs):
  return {u: [(s, e, "X") for s, e in uems[u]] if uems else
          [(0.0, max(e for _, e, _ in refs[u]), "X")] for u in refs}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", required=True)
  p.add_argument("--ami", help="folder of *.wav + *.rttm + *.uem")
  p.add_argument("--bank", action="append", default=[], help="NAME=PATH (repeatable)")
  p.add_argument("--num", type=int, default=100)
  p.add_argument("--no-espeak", action="store_true")
  p.add_argument("--out", help="append the JSON line to this file")
  a = p.parse_args(argv)

  from drzjax import der, diarize, rttm, scoring  # noqa: PLC0415
  sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests"))
  import test_silence  # noqa: PLC0415
  t0 = time.time()
  d = diarize.Diarizer.load(a.model)
  out = {"model": a.model, "step": d.step, "frontend": d.model.cfg.frontend}
  if a.ami:
    refs = rttm.collect_rttm(a.ami)
    uems = rttm.collect_uem(a.ami)
    hyps = {}
    for wav in sorted(glob.glob(os.path.join(a.ami, "*.wav"))):
      uri = os.path.splitext(os.path.basename(wav))[0]
      hyps[uri] = d(wav, uri=uri).segments
    r = der.score_corpus(refs, hyps, uems, collar=0.0)
    out["ami"] = {u: round(v["der"], 4) for u, v in r["files"].items()}
    o = r["overall"]
    out["ami"]["overall"] = round(o["der"], 4)
    out["ami"]["fa_miss_conf"] = [round(o[k] / o["total"], 4) for k in ("false_alarm", "missed", "confusion")]
    out["ami_oracle_one_label"] = round(der.score_corpus(refs, oracle_one_label(refs), uems)["overall"]["der"], 4)
    out["ami_all_one_label"] = round(der.score_corpus(refs, all_one_label(uems, refs), uems)["overall"]["der"], 4)
  sets = [kv.split("=", 1) for kv in a.bank] + ([] if a.no_espeak else [("espeak", None)])
  for name, path in sets:
    mixtures, _ = scoring.heldout_mixtures(d.config, a.num, bank_path=path)
    r, _ = scoring.score_synthetic(d.params, d.model, mixtures, collar=0.25)
    b = scoring.one_label_baseline(mixtures, 0.25)["overall"]["der"]
    out[name] = [round(r["overall"]["der"], 4), round(b, 4)]
  probes = {}
  for name, x in test_silence.probes().items():
    segs = d(x).segments
    if name == "speech_from_18s":
      probes[name] = round(sum(min(e, 18.0) - s for s, e, _ in segs if s < 18.0), 2)
    elif name == "one_voice_20s":
      probes[name] = len({w for _, _, w in segs})
    else:
      probes[name] = round(sum(e - s for s, e, _ in segs), 2)
  out["probes"] = probes
  out["secs"] = round(time.time() - t0)
  line = json.dumps(out)
  print(line)
  if a.out:
    with open(a.out, "a") as f:
      f.write(line + "\n")


if __name__ == "__main__":
  main()
