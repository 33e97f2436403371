"""Scoring a model on synthetic mixtures: the library under `evaluate` (the CLI), training's
validation (validate.py) and the DER sweep (sweep.py).

The held-out set (`heldout_mixtures`) is the bank's test split on the test stream seed, so its
numbers compare across runs; `score_synthetic` decodes mixtures and scores them against their
exact labels; `one_label_baseline` is the trivial baseline beside it; `enrollment_accuracy`
scores names given with enrollment.
"""
import dataclasses

import numpy as np

from drzjax import decode
from drzjax import der
from drzjax import intervals
from drzjax import tokens
from drzjax.data import channel
from drzjax.data import pipeline


def score_synthetic(params, model, mixtures, beam=1, batch=16, collar=0.0, decoder="tokens"):
  """Decode in-memory mixtures (tokens: greedy/beam; or the frame head), scored against their
  exact labels.

  mixtures: [data.mixtures.Mixture]. -> (result dict as score_corpus, {uri: hyp segments}).
  """
  n = model.cfg.num_samples
  refs, hyps = {}, {}
  for i in range(0, len(mixtures), batch):
    group = mixtures[i:i + batch]
    waves = np.zeros((batch, n), np.float32)  # one compiled shape: the last batch is padded
    for j, m in enumerate(group):
      waves[j, :min(n, len(m.audio))] = m.audio[:n]
    if decoder == "frames":
      durs = [len(m.audio) / model.cfg.sample_rate for m in group]
      rows = decode.frame_segments(params, model, waves, durations=durs + [0.0] * batch)
    else:
      kw = {"mode": "beam", "beam": beam} if beam > 1 else {}
      rows = decode.decode_segments(params, model, waves, **kw)
    for j, m in enumerate(group):
      uri = f"mix{i + j:04d}"
      refs[uri] = [(s, e, str(w)) for s, e, w in m.segments]
      hyps[uri] = [(s, e, tokens.letter(k)) for s, e, k in rows[j][0]]
  return der.score_corpus(refs, hyps, collar=collar), hyps


def one_label_baseline(mixtures, collar=0.0):
  """The trivial baseline: all reference speech (oracle voice activity) given one speaker.
  Its DER is the share of speech not spoken by the main voice, plus overlap misses."""
  refs = {f"mix{i:04d}": [(s, e, str(w)) for s, e, w in m.segments]
          for i, m in enumerate(mixtures)}
  return der.score_corpus(refs, {u: one_label(r) for u, r in refs.items()}, collar=collar)


def one_label(segments):
  """The baseline's hypothesis for a reference: its speech, merged, all speaker "A"."""
  return [(s, e, "A") for s, e in intervals.merge((s, e) for s, e, _ in segments)]


def heldout_mixtures(config, num, secs=None, bank_path=None, split=None):
  """Held-out synthetic mixtures: the bank's test split (voices never trained on), the test
  stream seed (neither training's nor validation's). secs: long conversations of that length for
  the chunked path (no prompt examples, no crop, no label budget). bank_path: another bank, all
  of whose speakers are used (e.g. real voices the model never heard) unless `split` names one.
  -> (mixtures, the pipeline.Synthesizer that made them)."""
  from drzjax.data import build  # noqa: PLC0415 - may build the embedded bank
  spec = pipeline.ExampleSpec.from_config(config, bank_path or build.default_bank(config),
                                          split or ("all" if bank_path else "test"),
                                          seed=pipeline.stream_seed(config, "test"))
  # One test set whatever the model trained on: no channel augmentation (real voices bring
  # their own channel), and a --bank is read alone, without the training mix's weights.
  # No silence dials either: every test chunk has 2+ voices, as before the dials existed.
  spec = dataclasses.replace(spec, mix=dataclasses.replace(
      spec.mix, channel=channel.OFF, empty_prob=0.0, solo_prob=0.0, lead_prob=0.0,
      trail_prob=0.0, far_prob=0.0),
      bank_weights=() if bank_path else spec.bank_weights)
  if secs:
    mix = dataclasses.replace(spec.mix, min_secs=secs, max_secs=secs, crop_secs=0.0,
                              prompt_prob=0.0, max_segments=10 ** 6)
    spec = dataclasses.replace(spec, mix=mix)
  synth = pipeline.Synthesizer(spec)
  return [synth.mixture(i) for i in range(num)], synth


def enrollment_accuracy(mixtures, hyps, sample_rate=16000, resolution=0.01):
  """Share of single-speaker reference speech time whose true speaker name is active in the
  hypothesis (names as given with enrollment: no speaker mapping)."""
  hit = total = 0
  for m, hyp in zip(mixtures, hyps):
    n = int(len(m.audio) / sample_rate / resolution) + 1
    ref = {}
    for s, e, w in m.segments:
      ref.setdefault(str(w), np.zeros(n, bool))[int(s / resolution):int(e / resolution)] = True
    one = sum(r.astype(int) for r in ref.values()) == 1
    for w, r in ref.items():
      h = np.zeros(n, bool)
      for s, e, who in hyp:
        if who == w:
          h[int(s / resolution):int(e / resolution)] = True
      hit += int(np.sum(r & one & h))
      total += int(np.sum(r & one))
  return hit / max(total, 1)
