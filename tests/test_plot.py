"""Timeline pictures: each segment drawn once, in its speaker's lane, at its times."""
import numpy as np

from drzjax import plot


def boxes(fig):
  out = []
  for coll in fig.axes[0].collections:
    for path in coll.get_paths():
      v = path.vertices
      out.append((round(float(v[:, 0].min()), 3), round(float(v[:, 0].max()), 3),
                  round(float(v[:, 1].min() + v[:, 1].max()) / 2, 3)))
  return sorted(out)


def test_timeline_lanes_and_times(tmp_path):
  ref = [(0.5, 1.5, "A"), (2.0, 3.0, "B"), (3.5, 4.0, "A")]
  hyp = [(0.6, 1.4, "s1")]
  fig = plot.timeline({"ref": ref, "hyp": hyp}, 5.0)
  assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ref A", "ref B", "hyp s1"]
  assert boxes(fig) == [(0.5, 1.5, 0.0), (0.6, 1.4, 2.0), (2.0, 3.0, 1.0), (3.5, 4.0, 0.0)]
  # Same input, same bytes (fixed PNG metadata), and a waveform row below the lanes.
  wave = np.sin(np.arange(5 * 16000) / 50).astype(np.float32)
  for name in ("a.png", "b.png"):
    plot.save_png(plot.timeline({"ref": ref}, 5.0, wave=wave), tmp_path / name)
  assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
  assert plot.to_array(plot.timeline({"ref": ref}, 5.0)).dtype == np.uint8
