"""Mixture synthesis: determinism, labels that match the audio, and the dials doing what they say.

The `small_bank` fixture's voices are exact zeros outside their speech regions, so a speaker's
isolated track (the same mixture drawn from a bank where everyone else is silent: the random
draws do not depend on the audio) must have energy exactly where that speaker is labelled.
"""
import dataclasses

import numpy as np
import pytest

from configs import base
from drzjax import tokens
from drzjax.data import bank as bank_lib
from drzjax.data import mixtures

SR = 16000
TINY = mixtures.MixConfig.from_config(base.get_config("tiny"))


@pytest.fixture(scope="module")
def bank(small_bank):
  return bank_lib.open_bank(small_bank)


@pytest.fixture(scope="module")
def speakers(bank):
  return bank.speakers("train")


def cfg(**kw):
  return dataclasses.replace(TINY, **kw)


def mixes(bank, speakers, c, n=50, seed=0):
  return [mixtures.make_mixture(bank, speakers, seed, i, c) for i in range(n)]


class OnlySpeaker:
  """A bank in which every speaker but one is silent."""

  def __init__(self, bank, speaker):
    self.bank, self.speaker = bank, speaker

  def utterances_of(self, speaker):
    return self.bank.utterances_of(speaker)

  def audio(self, utt, start=0, end=None):
    x = self.bank.audio(utt, start, end)
    return x if utt.speaker == self.speaker else np.zeros_like(x)


def frame_rms(x, hop=160, win=320):
  n = max(0, (len(x) - win) // hop + 1)
  frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
  return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)), np.arange(n) * hop


def mask(segments, n, pad=0.0):
  m = np.zeros(n, bool)
  for s, e, _ in segments:
    m[max(0, round((s - pad) * SR)):max(0, round((e + pad) * SR))] = True
  return m


def test_deterministic_and_order_independent(bank, speakers):
  c = cfg(pitch_prob=0.5, speed_prob=0.5, volume_prob=0.5, noise_prob=0.5)
  a = [mixtures.make_mixture(bank, speakers, 7, i, c) for i in range(8)]
  b = [mixtures.make_mixture(bank, speakers, 7, i, c) for i in reversed(range(8))][::-1]
  for x, y in zip(a, b):
    assert x.audio.tobytes() == y.audio.tobytes()
    assert x.segments == y.segments and x.speakers == y.speakers
  assert len({m.audio.tobytes() for m in a}) == len(a)  # different index, different mixture
  other = mixtures.make_mixture(bank, speakers, 8, 0, c)
  assert other.audio.tobytes() != a[0].audio.tobytes()


def test_labels_match_each_speakers_energy(bank, speakers):
  # Augmentations on (they move and reshape the audio, the labels must follow), noise off.
  c = cfg(noise_prob=0.0, speed_prob=0.5, pitch_prob=0.5, volume_prob=0.5, interrupt_max=1.0)
  for i in range(30):
    mix = mixtures.make_mixture(bank, speakers, 1, i, c)
    n = len(mix.audio)
    tracks = {}
    for spk in mix.speakers:
      iso = mixtures.make_mixture(OnlySpeaker(bank, spk), speakers, 1, i, c)
      assert len(iso.audio) == n and iso.segments == mix.segments
      tracks[spk] = iso.audio
    # The tracks add up to the mixture (up to the mixture's peak normalisation).
    total = sum(tracks.values())
    scale = min(1.0, 0.99 / max(float(np.abs(total).max()), 1e-9))
    np.testing.assert_allclose(total * scale, mix.audio, atol=1e-5)
    for spk, x in tracks.items():
      mine = [s for s in mix.segments if s[2] == spk]
      assert mine, f"mixture {i}: drawn speaker {spk} has no label"
      rms, pos = frame_rms(x)
      centre = pos + 160
      inside = mask(mine, n, pad=-0.03)[centre]    # well inside a labelled region
      outside = ~mask(mine, n, pad=0.1)[centre]    # well away from any (vocoder tails)
      assert rms[inside].min() > 0.003, (i, spk)
      assert rms[outside].max(initial=0.0) < 1e-3 * rms[inside].mean(), (i, spk)


def test_labels_exact_without_effects(bank, speakers):
  """No speed/pitch/noise: the mixture is exactly zero wherever nobody is labelled."""
  c = cfg(noise_prob=0.0, speed_prob=0.0, pitch_prob=0.0)
  for mix in mixes(bank, speakers, c, n=30, seed=2):
    m = mask(mix.segments, len(mix.audio))
    assert np.all(mix.audio[~m] == 0)
    rms, pos = frame_rms(mix.audio)
    assert rms[mask(mix.segments, len(mix.audio), pad=-0.03)[pos + 160]].min() > 0.003


def overlap_and_silence(mix):
  n = len(mix.audio)
  count = np.zeros(n, np.int32)
  for s, e, _ in mix.segments:
    count[round(s * SR):round(e * SR)] += 1
  return np.mean(count > 1), np.mean(count == 0)


def test_no_interruptions_means_no_overlap(bank, speakers):
  c = cfg(interrupt_max=0.0, num_speakers=3, noise_prob=0.0, pitch_prob=0.0)
  for mix in mixes(bank, speakers, c):
    segs = mix.segments
    for i, (s1, e1, a) in enumerate(segs):
      for s2, e2, b in segs[i + 1:]:
        assert min(e1, e2) <= max(s1, s2) + 1e-9, (s1, e1, a, s2, e2, b)


def test_dials_move_overlap_and_silence(bank, speakers):
  def stats(**kw):
    ms = mixes(bank, speakers, cfg(noise_prob=0.0, pitch_prob=0.0, **kw))
    return np.mean([overlap_and_silence(m) for m in ms], axis=0)

  ov0, _ = stats(interrupt_max=0.0)
  ov1, _ = stats(interrupt_max=0.5)
  ov2, _ = stats(interrupt_max=2.0)
  assert ov0 == 0.0 < ov1 < ov2
  _, sil_lo = stats(silence_max=0.1, interrupt_max=0.0)
  _, sil_hi = stats(silence_max=2.0, interrupt_max=0.0)
  assert sil_hi > sil_lo + 0.05
  # The same speaker never overlaps themself, whatever the dials.
  for mix in mixes(bank, speakers, cfg(interrupt_max=3.0, pitch_prob=0.0)):
    for spk in mix.speakers:
      mine = [s for s in mix.segments if s[2] == spk]
      assert all(e1 < s2 for (_, e1, _), (s2, _, _) in zip(mine, mine[1:]))


def test_speaker_counts_and_weights(bank, speakers):
  c = cfg(num_speakers=4, speaker_weights=(1.0, 0.0, 3.0), min_secs=6.0, max_secs=10.0,
          noise_prob=0.0, pitch_prob=0.0)
  counts = []
  for mix in mixes(bank, speakers, c, n=200):
    assert len(set(mix.speakers)) == len(mix.speakers)
    assert set(mix.speakers) <= set(speakers)
    assert {s[2] for s in mix.segments} == set(mix.speakers)  # every drawn speaker is heard
    counts.append(len(mix.speakers))
  counts = np.array(counts)
  assert set(counts) == {2, 4}
  assert abs(np.mean(counts == 4) - 0.75) < 0.1
  # Uniform by default, every count in 2..num_speakers.
  c = cfg(num_speakers=4, noise_prob=0.0, pitch_prob=0.0, min_secs=6.0, max_secs=10.0)
  counts = [len(m.speakers) for m in mixes(bank, speakers, c, n=150)]
  assert set(counts) == {2, 3, 4}
  assert min(np.bincount(counts)[2:]) > 25


@pytest.mark.parametrize("variant", ["tiny", "base"])
def test_every_drawn_speaker_heard_at_config_defaults(bank, speakers, variant):
  c = dataclasses.replace(mixtures.MixConfig.from_config(base.get_config(variant)),
                          pitch_prob=0.0, noise_prob=0.0)
  for mix in mixes(bank, speakers, c, n=60, seed=3):
    assert len({s[2] for s in mix.segments}) == len(mix.speakers) >= 2


def test_lengths_and_segments_well_formed(bank, speakers):
  c = cfg(min_secs=3.0, max_secs=9.0)
  lengths = []
  for mix in mixes(bank, speakers, c):
    secs = len(mix.audio) / SR
    lengths.append(secs)
    assert c.min_secs <= secs <= c.max_secs
    assert mix.audio.dtype == np.float32 and np.abs(mix.audio).max() <= 0.99 + 1e-6
    assert mix.segments == sorted(mix.segments)
    for s, e, _ in mix.segments:
      assert 0 <= s < e <= secs + 1e-9
  assert max(lengths) - min(lengths) > 3  # the length is drawn, not fixed
  same = cfg(min_secs=5.0, max_secs=5.0)
  assert {len(m.audio) for m in mixes(bank, speakers, same, n=10)} == {5 * SR}


def test_segment_budget_and_token_fit(bank, speakers):
  # Short pauses and long mixtures make many regions; a small label budget must hold.
  config = base.get_config("tiny")
  config.tokens.max_label_len = 16  # 5 triplets + EOS
  config.data.min_secs, config.data.max_secs = 8.0, 8.0
  c = mixtures.MixConfig.from_config(config)
  assert c.max_segments == 5
  vocab = tokens.Vocab.from_config(config)
  hit = 0
  for mix in mixes(bank, speakers, dataclasses.replace(c, pitch_prob=0.0)):
    assert len(mix.segments) <= 5
    hit += len(mix.segments) == 5
    ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
    assert tokens.decode(ids, vocab)[1] == 0
  assert hit > 10  # the budget was actually binding
  # And at the real configs.
  for variant in ("tiny", "base"):
    config = base.get_config(variant)
    c = dataclasses.replace(mixtures.MixConfig.from_config(config), pitch_prob=0.0)
    vocab = tokens.Vocab.from_config(config)
    for mix in mixes(bank, speakers, c, n=20):
      ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
      segs, dropped = tokens.decode(ids, vocab)
      assert dropped == 0 and len(segs) == len(mix.segments)


def test_config_validation():
  config = base.get_config("tiny")
  config.data.speaker_weights = "1,2,3"
  with pytest.raises(ValueError, match="speaker_weights"):
    mixtures.MixConfig.from_config(config)
  config = base.get_config("tiny")
  config.data.num_speakers = 5  # tiny has 4 speaker slots
  with pytest.raises(ValueError, match="speaker_slots"):
    mixtures.MixConfig.from_config(config)


def test_needs_two_speakers(bank, speakers):
  with pytest.raises(ValueError, match="at least 2"):
    mixtures.make_mixture(bank, speakers[:1], 0, 0, TINY)


@pytest.mark.parametrize("semitones", [-2.0, -0.5, 1.3, 2.0])
def test_pitch_shift_moves_pitch_keeps_length(semitones):
  t = np.arange(int(1.5 * SR)) / SR
  for f in (150.0, 440.0):
    x = (0.3 * sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3))).astype(np.float32)
    y = mixtures._pitch_shift(x, SR, semitones)
    assert y.dtype == np.float32 and len(y) == len(x)
    seg = y[SR // 4:SR // 4 + SR]  # 1 s: 1 Hz bins
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    assert abs(np.argmax(spec) - f * 2 ** (semitones / 12)) <= 1.5
    assert np.sqrt(np.mean(seg ** 2)) == pytest.approx(np.sqrt(np.mean(x ** 2)), rel=0.15)
  # Silence stays silent and short inputs work.
  assert not np.any(mixtures._pitch_shift(np.zeros(5000, np.float32), SR, semitones))
  assert len(mixtures._pitch_shift(np.ones(300, np.float32), SR, semitones)) == 300
