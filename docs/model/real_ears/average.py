"""Average two exported models' parameters (a weight average of two fine-tunes from one start).

  python docs/model/real_ears/average.py A_EXPORT B_EXPORT 0.5 OUT_EXPORT

writes (1 - w) * A + w * B to OUT_EXPORT (params.npz), with A's config.json and meta.json (its
note naming the average). Used for MODEL.md "Known failures" (½ S2 + ½ W).
"""
import json
import os
import shutil
import sys

import numpy as np


def main(argv):
  if len(argv) != 4:
    raise SystemExit(__doc__)
  a_dir, b_dir, w, out = argv[0], argv[1], float(argv[2]), argv[3]
  pa = np.load(os.path.join(a_dir, "params.npz"))
  pb = np.load(os.path.join(b_dir, "params.npz"))
  if sorted(pa.files) != sorted(pb.files) or any(pa[k].shape != pb[k].shape for k in pa.files):
    raise SystemExit(f"{a_dir} and {b_dir} hold different parameters: not one model")
  os.makedirs(out, exist_ok=True)
  avg = {k: ((1 - w) * pa[k].astype(np.float64) + w * pb[k].astype(np.float64)).astype(pa[k].dtype)
         for k in pa.files}
  np.savez(os.path.join(out, "params.npz"), **avg)
  shutil.copy(os.path.join(a_dir, "config.json"), out)
  with open(os.path.join(a_dir, "meta.json")) as f:
    meta = json.load(f)
  meta["note"] = f"weight average: {1 - w:g} x {a_dir} + {w:g} x {b_dir}"
  with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump(meta, f, indent=1)
  print(f"wrote {out}")


if __name__ == "__main__":
  main(sys.argv[1:])
