"""How diarize's file-level steps scale with the length of a recording: the clustering of the
chunks' letters (`linking.cluster`) and the filling of unlabelled speech (`diarize.fill_speech`),
on made-up inputs shaped like an N-minute file (10 s chunks, 1-3 letters each from 8 voices,
CAM++-like 192-d embeddings; a segment and a speech region every 3 s).

  python -m bench.clustering                       # 10, 30, 60, 120 minutes
  python -m bench.clustering --minutes=60,180

The networks are not run: what is timed is the Python around them, which must stay small
beside the decoder and CAM++ (~0.0124 of real time together, BENCHMARKS.md) however long the
file. Prints a table, then one JSON object {minutes: {"units", "cluster_s", "fill_s"}}.
"""
import argparse
import json
import time

import numpy as np

from drzjax import diarize
from drzjax import linking


def letters(minutes, seed=0):
  """linking.Units of an N-minute file: each 10 s chunk hears 1-3 of 8 voices."""
  rng = np.random.default_rng(seed)
  voices = rng.standard_normal((8, linking.EMBED_DIM))
  voices /= np.linalg.norm(voices, axis=1, keepdims=True)
  units = []
  for c in range(int(minutes * 6)):
    for k, v in enumerate(rng.choice(8, size=rng.integers(1, 4), replace=False)):
      e = voices[v] + rng.standard_normal(linking.EMBED_DIM) / np.sqrt(linking.EMBED_DIM)
      units.append(linking.Unit(c, (c, k), (c, k), e / np.linalg.norm(e),
                                float(rng.uniform(0.5, 6.0))))
  return units


def timeline(minutes):
  """(segments, speech regions): a 2 s turn every 3 s, speech running 1.4 s past each."""
  starts = np.arange(0.0, minutes * 60.0, 3.0)
  segments = [(float(s), float(s) + 2.0, "AB"[i % 2]) for i, s in enumerate(starts)]
  return segments, [(float(s) + 1.5, float(s) + 2.9) for s in starts]


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m bench.clustering",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--minutes", default="10,30,60,120",
                 help="comma-separated recording lengths to time")
  args = p.parse_args(argv)
  out = {}
  print(f"{'minutes':>8} {'units':>6} {'cluster s':>10} {'fill_speech s':>14}")
  for m in (float(x) for x in args.minutes.split(",")):
    units = letters(m)
    t = time.perf_counter()
    linking.cluster(units)
    cluster_s = time.perf_counter() - t
    segments, speech = timeline(m)
    t = time.perf_counter()
    diarize.fill_speech(segments, speech)
    fill_s = time.perf_counter() - t
    out[f"{m:g}"] = {"units": len(units), "cluster_s": round(cluster_s, 3),
                     "fill_s": round(fill_s, 3)}
    print(f"{m:8g} {len(units):6d} {cluster_s:10.3f} {fill_s:14.3f}")
  print(json.dumps(out))


if __name__ == "__main__":
  main()
