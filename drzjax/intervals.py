"""Interval arithmetic shared by synthesis, scoring, diarize and linking: one merge and one
subtraction, written once."""


def merge(intervals, gap=0.0):
  """Sorted (start, end) tuples of the non-empty intervals, those that touch, overlap or are
  within `gap` of each other joined."""
  out = []
  for s, e in sorted((s, e) for s, e in intervals if e > s):
    if out and s <= out[-1][1] + gap:
      out[-1][1] = max(out[-1][1], e)
    else:
      out.append([s, e])
  return [(s, e) for s, e in out]


def merge_by_label(segments, gap=0.0):
  """[(start, end, label)] -> the same, each label's intervals merged (see merge), sorted."""
  by = {}
  for s, e, w in segments:
    by.setdefault(w, []).append((s, e))
  return sorted((s, e, w) for w, iv in by.items() for s, e in merge(iv, gap))


def subtract(span, cuts, eps=1e-9):
  """The pieces of `span` (start, end) that none of `cuts` [(start, end)] covers, longer than
  eps, in order."""
  pieces = [span]
  for cs, ce in cuts:
    pieces = [p for a, b in pieces for p in ((a, min(b, cs)), (max(a, ce), b)) if p[1] - p[0] > eps]
  return pieces
