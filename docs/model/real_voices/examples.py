"""Timelines of what a model wrote against the reference on real test voices."""
import sys
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
from drzjax import diarize, plot, scoring
src, bank, out = sys.argv[1], sys.argv[2], sys.argv[3]
d = diarize.Diarizer.pretrained(src) if not src.startswith("/work/ablate") else diarize.Diarizer.from_workdir(src)
mix, _ = scoring.heldout_mixtures(d.config, 6, bank_path=bank)
mix = [m for m in mix if not m.prompt][:3]
from PIL import Image
import numpy as np
rows = []
for i, m in enumerate(mix):
  hyp = d(m.audio).segments
  fig = plot.timeline({"ref": [(s, e, str(w)) for s, e, w in m.segments], "model": hyp},
                      len(m.audio) / 16000, wave=m.audio, title=f"real test voices, mixture {i}")
  rows.append(plot.to_array(fig))
w = max(r.shape[1] for r in rows)
img = np.concatenate([np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
plt.imsave(out, img)
print("wrote", out)
