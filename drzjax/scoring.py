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


def meeting(synth, voices, secs, index, scene_voices=3):
  """A long recording of exactly `voices` held-out voices entering and leaving: scenes of about
  40 s (more, shorter ones when needed so that everyone speaks; all fit in `secs`), each a
  conversation of
  `scene_voices` of them, the window of voices sliding along the file's cast in a random order,
  0.5-2 s of silence between scenes. Deterministic in (the spec's seed, index);
  -> mixtures.Mixture."""
  from drzjax.data import mixtures  # noqa: PLC0415
  bank, spec = synth.bank(), synth.spec
  pool = bank.speakers(spec.split)
  if len(pool) < voices:
    raise ValueError(f"{spec.bank_path}: a meeting of {voices} voices needs {voices} speakers; "
                     f"the {spec.split} split has {len(pool)}")
  rng = mixtures.rng_for(spec.seed, 10 ** 6 + index)  # apart from the short mixtures' indices
  cast = [pool[i] for i in rng.choice(len(pool), voices, replace=False)]
  per = min(scene_voices, voices)
  scenes = max(int(np.ceil(secs / 40.0)), voices - per + 1)
  sr = spec.mix.sample_rate
  gaps = rng.uniform(0.5, 2.0, scenes)
  weights = rng.uniform(0.8, 1.2, scenes)
  lengths = (secs - gaps.sum()) * weights / weights.sum()  # so the last scene fits too
  audio, segments, t = [], [], 0.0
  for j, length in enumerate(lengths):
    lo = int(round(j * (voices - per) / max(scenes - 1, 1)))
    scene = cast[lo:lo + per]
    cfg = dataclasses.replace(spec.mix, min_secs=length, max_secs=length, crop_secs=0.0,
                              num_speakers=len(scene), prompt_prob=0.0,
                              speaker_weights=(0.0,) * (len(scene) - 2) + (1.0,),  # all of them
                              max_segments=10 ** 6)
    m = mixtures.make_conversation(bank, scene, spec.seed, 10 ** 6 + index * 1000 + j, cfg)
    segments += [(t + a, t + b, w) for a, b, w in m.segments]
    audio += [m.audio, np.zeros(int(gaps[j] * sr), np.float32)]
    t += len(m.audio) / sr + gaps[j]
  speakers = list(dict.fromkeys(w for _, _, w in segments))
  audio = np.concatenate(audio)[:int(secs * sr)]
  audio = np.pad(audio, (0, int(secs * sr) - len(audio)))
  return mixtures.Mixture(audio, [(a, min(b, secs), w) for a, b, w in segments if a < secs],
                          speakers)


def heldout_mixtures(config, num, secs=None, bank_path=None, split=None, voices=0):
  """Held-out synthetic mixtures: the bank's test split (voices never trained on), the test
  stream seed (neither training's nor validation's). secs: long conversations of that length for
  the chunked path (no prompt examples, no crop, no label budget); with `voices`, meetings of
  exactly that many voices (`meeting`). bank_path: another bank, all of whose speakers are used
  (e.g. real voices the model never heard) unless `split` names one.
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
  if secs and voices:
    return [meeting(synth, voices, secs, i, config.data.num_speakers) for i in range(num)], synth
  return [synth.mixture(i) for i in range(num)], synth


def enrollment_clips(bank, mixture, index, sample_rate, secs=5.0):
  """[(voice, clip)] to enroll each voice of mixture `index`: `secs` of the speech regions of one
  of its utterances, chosen by index (most often not one the mixture used)."""
  out = []
  for w in mixture.speakers:
    utts = bank.utterances_of(w)
    u = utts[(index + 1) % len(utts)]
    x = np.concatenate([bank.audio(u, a, b) for a, b in u.regions])[:int(secs * sample_rate)]
    out.append((str(w), x))
  return out


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


def speaker_count_errors(refs, hyps):
  """{uri: speakers found - speakers in the reference} for each uri of `hyps`."""
  return {u: len({w for _, _, w in hyps[u]}) - len({w for _, _, w in refs[u]}) for u in hyps}


def count_summary(errors):
  """Mean |found - true| and the share of files within +-1 of the true speaker count."""
  e = np.abs(np.array(list(errors.values()) or [0]))
  return {"speaker_count_abs_error": float(e.mean()),
          "speaker_count_within_1": float(np.mean(e <= 1))}
