"""Diarization error rate (DER) and Jaccard error rate (JER), exact on segment boundaries.

The scored region of a file is the UEM (or, without one, the extent of reference ∪ hypothesis,
as pyannote.metrics does) minus the no-score zones:
- `collar` (md-eval convention): ± collar seconds around every reference turn boundary.
  pyannote.metrics' `collar` is the total width, so collar=0.25 here = pyannote collar=0.5.
- `skip_overlap`: wherever two or more reference speakers speak at once.

The time line is cut at every boundary; on each elementary piece with n_ref reference and n_hyp
hypothesis speakers (weight = its scored duration):
  total += n_ref, missed += max(0, n_ref - n_hyp), false_alarm += max(0, n_hyp - n_ref),
  confusion += min(n_ref, n_hyp) - n_correct,
where n_correct counts pairs of the one-to-one speaker mapping that maximises the total time the
pair co-occurs in the scored region (Hungarian, scipy.optimize.linear_sum_assignment). DER is
(false_alarm + missed + confusion) / total, for a file and, with summed components, a corpus.

JER (DIHARD II, as pyannote.metrics.JaccardErrorRate): with the same mapping and scored region,
each reference speaker r mapped to h scores (|h \\ r| + |r \\ h|) / |r ∪ h|, an unmapped one 1;
JER is their mean, over a file's speakers or over all the corpus' speakers.

Deliberate choices, where the well-known scorers differ (tests/test_der.py checks each):
- Empty reference (total == 0): DER is 0 if nothing is hypothesised there, else 1.0 (100 %),
  as pyannote.metrics. JER is 0 without hypothesised speech, else 1.0, as dscore; pyannote
  says 1.0 even when both are empty, which would call a correct "silence" answer 100 % wrong.
- A speaker whose turns overlap each other counts once where they overlap (as md-eval, which
  warns); pyannote.metrics counts such a speaker twice. Collars still go around every turn
  boundary as written, as in both.
- Without a UEM, md-eval scores only the reference's extent; we score reference ∪ hypothesis
  (pyannote), so hypothesised speech after the last reference turn is false alarm.
- md-eval finds the speaker mapping before removing collars and overlap; we find it on the
  scored region (pyannote). The two rarely differ, and only with collar or skip_overlap.
- Names are case-sensitive (md-eval lower-cases them).
- JER uses the DER mapping (max co-occurrence) and the collar and skip_overlap given, as
  pyannote. dscore computes JER without collars and with its own mapping, the one minimising
  JER, so its JER can be lower. When several mappings tie for the best co-occurrence (same
  DER), JER depends on which is taken; we take the one pyannote takes (it depends on
  the speakers' names), nearly always: its choice can hinge on float rounding.
Turns of zero length are ignored, boundaries included.
"""
import logging

import numpy as np
from scipy.optimize import linear_sum_assignment

from drzjax import intervals

log = logging.getLogger(__name__)

KEYS = ("der", "false_alarm", "missed", "confusion", "total", "jer")

# Times are compared on a 1 ns grid so that e.g. 1.1 + 0.25 and 1.6 - 0.25 are one instant;
# otherwise float noise leaves 1e-16 s slivers that can keep a speaker "present" for JER.
_DECIMALS = 9


def _by_speaker(segments):
  """{speaker: merged (start, end) list}, times snapped to the grid, empty turns dropped."""
  turns = {}
  for s, e, spk in segments:
    turns.setdefault(spk, []).append((round(float(s), _DECIMALS), round(float(e), _DECIMALS)))
  turns = {spk: intervals.merge(iv) for spk, iv in turns.items()}
  return {spk: iv for spk, iv in turns.items() if iv}


def _subtract(region, holes):
  """region minus holes, both merged sorted lists (one linear pass over both)."""
  out, k = [], 0
  for s, e in region:
    while k < len(holes) and holes[k][1] <= s:
      k += 1
    i = k
    while i < len(holes) and holes[i][0] < e:
      if holes[i][0] > s:
        out.append((s, holes[i][0]))
      s = max(s, holes[i][1])
      i += 1
    if e > s:
      out.append((s, e))
  return out


def _activity(speakers, edges):
  """(n_speakers, n_pieces) bool: is each speaker active on each elementary piece."""
  act = np.zeros((len(speakers), len(edges) - 1), bool)
  for i, iv in enumerate(speakers):
    if iv:
      iv = np.asarray(iv)
      d = np.zeros(len(edges), np.int64)
      np.add.at(d, np.searchsorted(edges, iv[:, 0]), 1)
      np.add.at(d, np.searchsorted(edges, iv[:, 1]), -1)
      act[i] = np.cumsum(d)[:-1] > 0
  return act


def _ratio(err, total):
  # pyannote's convention for an empty denominator: no error is 0, any error is 100 %.
  if total > 0:
    return err / total
  return 0.0 if err == 0 else 1.0


def _components(ref, hyp, uem=None, collar=0.0, skip_overlap=False):
  """The additive pieces of DER/JER for one file (see module docstring)."""
  if collar < 0:
    raise ValueError(f"collar must be >= 0, got {collar}")
  r_turns, h_turns = _by_speaker(ref), _by_speaker(hyp)
  if uem is None:
    times = [t for iv in (*r_turns.values(), *h_turns.values()) for seg in iv for t in seg]
    region = [(min(times), max(times))] if times else []
  else:
    region = intervals.merge((round(float(s), _DECIMALS), round(float(e), _DECIMALS)) for s, e in uem)
  holes = []
  if collar > 0:
    # Around every written reference boundary, as md-eval and pyannote (not the merged turns).
    for s, e, _ in ref:
      if e > s:
        holes += [(s - collar, s + collar), (e - collar, e + collar)]
    holes = [(round(s, _DECIMALS), round(e, _DECIMALS)) for s, e in holes]
  r_spk, h_spk = sorted(r_turns, key=str), sorted(h_turns, key=str)
  if skip_overlap and len(r_spk) > 1:
    edges = np.unique([t for iv in r_turns.values() for seg in iv for t in seg])
    n = _activity([r_turns[k] for k in r_spk], edges).sum(0)
    holes += [(edges[i], edges[i + 1]) for i in np.flatnonzero(n >= 2)]
  scored = _subtract(region, intervals.merge(holes))

  edges = np.unique(np.array(  # the extra 0.0 only keeps `edges` non-empty
      [t for iv in (scored, *r_turns.values(), *h_turns.values()) for seg in iv for t in seg]
      + [0.0], np.float64))
  w = np.diff(edges) * _activity([scored], edges)[0]  # scored seconds of each piece
  R = _activity([r_turns[k] for k in r_spk], edges)
  H = _activity([h_turns[k] for k in h_spk], edges)
  nr, nh = R.sum(0), H.sum(0)
  # Several mappings can share the best co-occurrence: same DER, not the same JER. Building the
  # matrix as pyannote.metrics does (only speakers with scored speech, sorted by name, reference
  # rows) makes linear_sum_assignment break such ties as pyannote does, nearly always; exact
  # agreement is impossible, since pyannote's choice can hinge on float rounding noise.
  r_dur, h_dur = R @ w, H @ w
  R, H = R[r_dur > 0], H[h_dur > 0]
  r_dur, h_dur = r_dur[r_dur > 0], h_dur[h_dur > 0]
  cooc = (R * w) @ H.T.astype(np.float64)  # seconds each (ref, hyp) pair share
  rows, cols = linear_sum_assignment(-cooc) if cooc.size else ([], [])
  pairs = [(i, j) for i, j in zip(rows, cols) if cooc[i, j] > 0]
  correct = sum(cooc[i, j] for i, j in pairs)

  jer = [1.0] * len(r_dur)  # an unmapped reference speaker is all error
  for i, j in pairs:
    jer[i] = (r_dur[i] + h_dur[j] - 2 * cooc[i, j]) / (r_dur[i] + h_dur[j] - cooc[i, j])
  return dict(
      total=float(w @ nr), missed=float(w @ np.maximum(nr - nh, 0)),
      false_alarm=float(w @ np.maximum(nh - nr, 0)),
      confusion=max(0.0, float(w @ np.minimum(nr, nh) - correct)),  # no -1e-16 from rounding
      jer_sum=float(sum(jer)), jer_count=len(jer),
      hyp_speech=float(h_dur.sum()))


def _rates(c):
  """Additive components -> the reported dict (der/jer as fractions, the rest in seconds)."""
  err = c["false_alarm"] + c["missed"] + c["confusion"]
  jer = c["jer_sum"] / c["jer_count"] if c["jer_count"] else _ratio(c["hyp_speech"], 0.0)
  return dict(der=_ratio(err, c["total"]), false_alarm=c["false_alarm"], missed=c["missed"],
              confusion=c["confusion"], total=c["total"], jer=jer)


def score_file(ref, hyp, uem=None, collar=0.0, skip_overlap=False):
  """DER and JER of one file.

  ref, hyp: [(start, end, speaker)]; uem: [(start, end)] or None; collar in md-eval seconds.
  Returns {der, false_alarm, missed, confusion, total, jer}: der/jer are fractions
  (0.12 = 12 %), the others seconds (total = scored reference speaker time).
  """
  return _rates(_components(ref, hyp, uem, collar, skip_overlap))


def score_corpus(refs, hyps, uems=None, collar=0.0, skip_overlap=False):
  """Scores every uri of `refs`: {"files": {uri: score_file(...)}, "overall": {...}}.

  Overall DER sums the components over files; overall JER averages over all reference
  speakers of the corpus (pyannote's accumulation). A uri missing from `hyps` is scored as an
  empty hypothesis, one missing from `uems` over its ref ∪ hyp extent; both are logged as
  warnings, as are hypothesis uris with no reference (they are not scored).
  """
  files, acc = {}, dict.fromkeys(
      ("total", "missed", "false_alarm", "confusion", "jer_sum", "jer_count", "hyp_speech"), 0)
  for uri in sorted(set(hyps) - set(refs)):
    log.warning("hypothesis %s has no reference; not scored", uri)
  for uri in sorted(refs):
    if uri not in hyps:
      log.warning("no hypothesis for %s; scored as an empty hypothesis", uri)
    uem = None
    if uems is not None:
      uem = uems.get(uri)
      if uem is None:
        log.warning("no UEM for %s; scoring the extent of reference and hypothesis", uri)
    c = _components(refs[uri], hyps.get(uri, []), uem, collar, skip_overlap)
    files[uri] = _rates(c)
    for k in acc:
      acc[k] += c[k]
  return {"files": files, "overall": _rates(acc)}
