"""Two validate.sh outputs, file by file: how much of a sum's difference is one file.

  PYTHONPATH=. python docs/model/real_ears/paired.py OUT_A OUT_B [GLOB]

For each long set both directories hold (GLOB, default validate.sh's `*_*s_*v.json`: evaluate's
`--json` scores): the DER of A and B,
how many files B wins, loses and ties (within 0.5 points), the largest single-file swing, and a
bootstrap interval (files resampled, 2,000 draws, seed 0) for B − A of the set's DER. The
tenth session's whitened linking met validate.sh's sum criterion (−3.5) and lost every 2-minute
test set, each to one merge in one file (MODEL.md, "Tenth session"): read a sum next to this.
"""
import glob
import json
import os
import sys

import numpy as np

from drzjax import der


def set_der(files, names):
  """DER % of the files `names`, their components summed as der.score_corpus's overall does."""
  err = sum(files[n]["false_alarm"] + files[n]["missed"] + files[n]["confusion"] for n in names)
  return 100 * der._ratio(err, sum(files[n]["total"] for n in names))  # noqa: SLF001


def compare(a, b, draws=2000, tie=0.5):
  """{file: scores} of A and B -> one dict of paired figures for the files both hold."""
  names = sorted(set(a) & set(b))
  diff = np.array([100 * (b[n]["der"] - a[n]["der"]) for n in names])
  rng = np.random.default_rng(0)
  boot = [set_der(b, pick) - set_der(a, pick)
          for pick in ([names[i] for i in rng.integers(0, len(names), len(names))]
                       for _ in range(draws))]
  worst = int(np.argmax(np.abs(diff)))
  return {"files": len(names), "a": round(set_der(a, names), 2), "b": round(set_der(b, names), 2),
          "b_wins": int((diff < -tie).sum()), "b_loses": int((diff > tie).sum()),
          "ties": int((np.abs(diff) <= tie).sum()),
          "largest_swing": f"{names[worst]} {diff[worst]:+.1f}",
          "b_minus_a_90pct": [round(float(np.percentile(boot, 5)), 2),
                              round(float(np.percentile(boot, 95)), 2)]}


def main(argv):
  if len(argv) not in (2, 3):
    sys.exit("usage: paired.py OUT_A OUT_B [GLOB]")
  pattern = argv[2] if len(argv) == 3 else "*_*s_*v.json"
  for path in sorted(glob.glob(os.path.join(argv[0], pattern))):
    other = os.path.join(argv[1], os.path.basename(path))
    if os.path.exists(other):
      r = compare(json.load(open(path))["files"], json.load(open(other))["files"])
      print(os.path.basename(path)[:-5], json.dumps(r))


if __name__ == "__main__":
  main(sys.argv[1:])
