"""DER of one model on 10 s chunks of held-out recordings, each decoded alone: what the
fine-tune trains, without diarize's linking of speakers across chunks (README.md beside this).

  PYTHONPATH=. python docs/model/real_data/chunks.py --data=/work/real-demo/heldout \\
      [--workdir=RUN] [--num=200] [--json=FILE]

The chunks are the real source's (drzjax/data/real.py) on --data, unprompted, seed 2 (the test
stream's offset), so every model is scored on the same ones; the one-label baseline (oracle
speech, one label) on them beside. Without --workdir, the shipped model.
"""
import argparse
import dataclasses
import json
import sys

from drzjax import compile_cache
from drzjax import diarize
from drzjax import scoring
from drzjax.data import mixtures
from drzjax.data import real


def main(argv=None):
  p = argparse.ArgumentParser(prog="python docs/model/real_data/chunks.py")
  p.add_argument("--data", required=True)
  p.add_argument("--workdir")
  p.add_argument("--num", type=int, default=200)
  p.add_argument("--json")
  args = p.parse_args(argv)
  compile_cache.enable()
  d = diarize.Diarizer.load(args.workdir)
  mix = dataclasses.replace(mixtures.MixConfig.from_config(d.config), prompt_prob=0.0)
  src = real.Source(real.RealConfig(args.data, 1.0, 0.0, 0), "train", mix,
                    d.config.tokens.speaker_slots)
  chunks = [src.chunk(2, i) for i in range(args.num)]
  out = {}
  for collar in (0.25, 0.0):
    result, _ = scoring.score_synthetic(d.params, d.model, chunks, collar=collar)
    out[str(collar)] = {"der": result["overall"]["der"],
                        "baseline": scoring.one_label_baseline(chunks, collar)["overall"]["der"]}
    print(f"collar {collar}: DER {100 * out[str(collar)]['der']:.2f}%  one-label baseline "
          f"{100 * out[str(collar)]['baseline']:.2f}%  ({args.num} chunks)", flush=True)
  if args.json:
    with open(args.json, "w") as f:
      json.dump(out, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main())
