"""Timeline pictures: one row per speaker, reference and/or hypothesis, optional waveform."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Fixed PNG metadata: the same segments give byte-identical files.
PNG_META = {"Software": None}


def timeline(tracks, duration, wave=None, sample_rate=16000, title=None):
  """tracks: {track name: [(start, end, speaker), ...]} -> matplotlib Figure.

  Each track (e.g. "reference", "predicted") gets one lane per speaker; colours follow speakers.
  """
  speakers = sorted({s[2] for segs in tracks.values() for s in segs}, key=str)
  colour = {s: plt.cm.tab10(i % 10) for i, s in enumerate(speakers)}
  lanes = [(name, spk) for name, segs in tracks.items()
           for spk in sorted({s[2] for s in segs}, key=str)] or [("", "")]
  rows = len(lanes) + (1 if wave is not None else 0)
  fig, ax = plt.subplots(figsize=(10, 0.9 + 0.35 * rows), dpi=100)
  for i, (name, spk) in enumerate(lanes):
    spans = [(s, e - s) for s, e, who in tracks.get(name, []) if who == spk]
    if spans:
      ax.broken_barh(spans, (i - 0.35, 0.7), facecolors=colour[spk])
  if wave is not None and len(wave):
    env = np.abs(wave[: int(duration * sample_rate)])
    t = np.arange(len(env)) / sample_rate
    step = max(1, len(env) // 4000)
    ax.plot(t[::step], len(lanes) + 0.4 * env[::step] / max(env.max(), 1e-9) - 0.2,
            color="0.4", lw=0.5)
  ax.set_yticks(range(len(lanes)), [f"{n} {s}".strip() for n, s in lanes])
  ax.set_xlim(0, max(duration, 1e-3))
  ax.set_ylim(-0.6, rows - 0.4)
  ax.invert_yaxis()
  ax.set_xlabel("seconds")
  if title:
    ax.set_title(title, fontsize=9)
  fig.tight_layout()
  return fig


def save_png(fig, path):
  fig.savefig(path, format="png", metadata=PNG_META)
  plt.close(fig)


def to_array(fig):
  """Figure -> (H, W, 3) uint8, e.g. for TensorBoard images."""
  buf = io.BytesIO()
  fig.savefig(buf, format="png", metadata=PNG_META)
  plt.close(fig)
  buf.seek(0)
  return plt.imread(buf, format="png")[..., :3].__mul__(255).astype(np.uint8)
