"""intervals.merge against a brute-force reference: random intervals (touching, nested,
repeated, empty, reversed) rasterised on a grid fine enough to be exact."""
import numpy as np

from drzjax import intervals

# Endpoints on a grid of quarters: exact in floating point, so one grid cell per quarter makes
# the raster the exact union.
Q = 4


def reference(ivs, gap=0.0):
  """The union as runs of covered grid cells, with uncovered runs of at most `gap` between two
  covered ones filled in."""
  ticks = [round(x * Q) for iv in ivs for x in iv] + [0]
  lo, hi = min(ticks), max(ticks)
  covered = np.zeros(hi - lo + 1, bool)  # cell i: [lo + i, lo + i + 1) / Q
  for s, e in ivs:
    covered[round(s * Q) - lo:max(round(e * Q), round(s * Q)) - lo] = True
  edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
  runs = [[a, b] for a, b in zip(edges[::2], edges[1::2])]
  joined = []
  for a, b in runs:
    if joined and a - joined[-1][1] <= gap * Q:
      joined[-1][1] = b
    else:
      joined.append([a, b])
  return [((a + lo) / Q, (b + lo) / Q) for a, b in joined]


def random_intervals(rng):
  """Up to 12 intervals; some touch, nest in or repeat an earlier one, some are empty."""
  ivs = []
  for _ in range(int(rng.integers(0, 13))):
    kind = rng.integers(0, 6)
    if ivs and kind == 0:    # touching an earlier one, on either side
      s, e = ivs[rng.integers(len(ivs))]
      ivs.append((e, e + rng.integers(1, 9) / Q) if rng.random() < 0.5
                 else (s - rng.integers(1, 9) / Q, s))
    elif ivs and kind == 1:  # nested in (or equal to) an earlier one
      s, e = ivs[rng.integers(len(ivs))]
      a, b = sorted(rng.integers(round(s * Q), max(round(e * Q), round(s * Q)) + 1, 2))
      ivs.append((a / Q, b / Q))
    elif kind == 2:          # empty or reversed
      s = rng.integers(-8, 120) / Q
      ivs.append((s, s - rng.integers(0, 3) / Q))
    else:
      s = rng.integers(-8, 120) / Q
      ivs.append((s, s + rng.integers(1, 40) / Q))
  return ivs


def test_merge_equals_the_raster_reference():
  rng = np.random.default_rng(0)
  for case in range(3000):
    ivs = random_intervals(rng)
    gap = rng.choice([0.0, 0.0, 0.25, 1.0, 3.5])
    got = intervals.merge(ivs, gap)
    assert got == reference(ivs, gap), (case, ivs, gap, got)
    # What every caller relies on: sorted, non-empty, more than `gap` apart, order-free.
    assert all(s < e for s, e in got)
    assert all(b[0] - a[1] > gap for a, b in zip(got, got[1:])), got
    assert intervals.merge(ivs[::-1], gap) == got
    assert intervals.merge(got, gap) == got
    assert intervals.merge(iter(ivs), gap) == got  # der passes a generator


def test_merge_cases():
  assert intervals.merge([]) == []
  assert intervals.merge([(1.0, 1.0), (3.0, 2.0)]) == []
  assert intervals.merge([(2.0, 3.0), (0.0, 1.0), (1.0, 2.0)]) == [(0.0, 3.0)]  # touching
  assert intervals.merge([(0.0, 5.0), (1.0, 2.0)]) == [(0.0, 5.0)]              # nested
  assert intervals.merge([(0.0, 1.0), (1.5, 2.0)]) == [(0.0, 1.0), (1.5, 2.0)]
  assert intervals.merge([(0.0, 1.0), (1.5, 2.0)], gap=0.5) == [(0.0, 2.0)]     # gap inclusive
  assert intervals.merge([(0.0, 1.0), (1.5, 2.0)], gap=0.49) == [(0.0, 1.0), (1.5, 2.0)]
  assert intervals.merge([(0.0, 1.0), (3.0, 4.0), (1.0, 1.0)], gap=2.0) == [(0.0, 4.0)]


def test_merge_by_label_merges_each_label_alone():
  rng = np.random.default_rng(1)
  for _ in range(500):
    segs = [(s, e, str(rng.integers(3))) for s, e in random_intervals(rng)]
    gap = rng.choice([0.0, 0.5])
    want = sorted((s, e, w) for w in {w for *_, w in segs}
                  for s, e in reference([(s, e) for s, e, v in segs if v == w], gap))
    assert intervals.merge_by_label(segs, gap) == want, segs


def test_subtract_keeps_the_uncovered_pieces_in_order():
  assert intervals.subtract((0.0, 10.0), [(2.0, 3.0), (5.0, 6.0), (9.5, 12.0)]) == [
      (0.0, 2.0), (3.0, 5.0), (6.0, 9.5)]
  assert intervals.subtract((1.0, 2.0), [(0.0, 5.0)]) == []
  assert intervals.subtract((1.0, 2.0), []) == [(1.0, 2.0)]
