"""Mixture synthesis: determinism, labels that match the audio, and the dials doing what they say,
for both styles (conversations, the default, and nanodrz's relays).

The `small_bank` fixture's voices are exact zeros outside their speech regions, so a speaker's
isolated track (the same mixture drawn from a bank where everyone else is silent: the random
draws do not depend on the audio) must have energy exactly where that speaker is labelled.
"""
import dataclasses

import numpy as np
import pytest

from configs import base
from drzjax import prompt as prompt_lib
from drzjax import tokens
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import mixtures

SR = 16000
TINY = mixtures.MixConfig.from_config(base.get_config("tiny"))


@pytest.fixture(scope="module")
def bank(small_bank):
  return bank_lib.open_bank(small_bank)


@pytest.fixture(scope="module")
def speakers(bank):
  return bank.speakers("train")


STYLES = pytest.mark.parametrize("style", ["conversation", "relay"])


def cfg(**kw):
  return dataclasses.replace(TINY, **kw)


def mixes(bank, speakers, c, n=50, seed=0):
  return [mixtures.make(bank, speakers, seed, i, c) for i in range(n)]


class OnlySpeaker:
  """A bank in which every speaker but one is silent."""

  def __init__(self, bank, speaker):
    self.bank, self.speaker = bank, speaker

  def utterances_of(self, speaker):
    return self.bank.utterances_of(speaker)

  def probabilities(self, speakers):
    return self.bank.probabilities(speakers)

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


@STYLES
def test_deterministic_and_order_independent(bank, speakers, style):
  c = cfg(pitch_prob=0.5, speed_prob=0.5, volume_prob=0.5, noise_prob=0.5, style=style)
  a = [mixtures.make(bank, speakers, 7, i, c) for i in range(8)]
  b = [mixtures.make(bank, speakers, 7, i, c) for i in reversed(range(8))][::-1]
  for x, y in zip(a, b):
    assert x.audio.tobytes() == y.audio.tobytes()
    assert x.segments == y.segments and x.speakers == y.speakers
  assert len({m.audio.tobytes() for m in a}) == len(a)  # different index, different mixture
  other = mixtures.make(bank, speakers, 8, 0, c)
  assert other.audio.tobytes() != a[0].audio.tobytes()


@STYLES
def test_labels_match_each_speakers_energy(bank, speakers, style):
  # Augmentations on (they move and reshape the audio, the labels must follow), noise off.
  c = cfg(noise_prob=0.0, speed_prob=0.5, pitch_prob=0.5, volume_prob=0.5, interrupt_max=1.0,
          style=style)
  for i in range(30):
    mix = mixtures.make(bank, speakers, 1, i, c)
    n = len(mix.audio)
    tracks = {}
    for spk in mix.speakers:
      iso = mixtures.make(OnlySpeaker(bank, spk), speakers, 1, i, c)
      assert len(iso.audio) == n and iso.segments == mix.segments
      tracks[spk] = iso.audio
    # The tracks add up to the mixture (up to the mixture's peak normalisation).
    total = sum(tracks.values())
    scale = min(1.0, 0.99 / max(float(np.abs(total).max()), 1e-9))
    np.testing.assert_allclose(total * scale, mix.audio, atol=1e-5)
    for spk, x in tracks.items():
      mine = [s for s in mix.segments if s[2] == spk]
      rms, pos = frame_rms(x)
      if not mine:  # a conversation's crop can leave a drawn voice outside the chunk
        assert style == "conversation", f"mixture {i}: drawn speaker {spk} has no label"
        assert rms.max(initial=0.0) < 1e-4, (i, spk)
        continue
      centre = pos + 160
      inside = mask(mine, n, pad=-0.03)[centre]    # well inside a labelled region
      outside = ~mask(mine, n, pad=0.1)[centre]    # well away from any (vocoder tails)
      assert rms[inside].min() > 0.003, (i, spk)
      assert rms[outside].max(initial=0.0) < 1e-3 * rms[inside].mean(), (i, spk)


@STYLES
def test_labels_exact_without_effects(bank, speakers, style):
  """No speed/pitch/noise: the mixture is exactly zero wherever nobody is labelled."""
  c = cfg(noise_prob=0.0, speed_prob=0.0, pitch_prob=0.0, style=style)
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


@STYLES
def test_no_interruptions_means_no_overlap(bank, speakers, style):
  c = cfg(interrupt_max=0.0, num_speakers=3, noise_prob=0.0, pitch_prob=0.0, style=style,
          backchannel_prob=0.0)
  for mix in mixes(bank, speakers, c):
    segs = mix.segments
    for i, (s1, e1, a) in enumerate(segs):
      for s2, e2, b in segs[i + 1:]:
        assert min(e1, e2) <= max(s1, s2) + 1e-9, (s1, e1, a, s2, e2, b)


@STYLES
def test_dials_move_overlap_and_silence(bank, speakers, style):
  def stats(**kw):
    ms = mixes(bank, speakers, cfg(noise_prob=0.0, pitch_prob=0.0, style=style,
                                   backchannel_prob=0.0, **kw))
    return np.mean([overlap_and_silence(m) for m in ms], axis=0)

  ov0, _ = stats(interrupt_max=0.0)
  ov1, _ = stats(interrupt_max=0.5)
  ov2, _ = stats(interrupt_max=2.0)
  assert ov0 == 0.0 < ov1 < ov2
  _, sil_lo = stats(silence_max=0.1, interrupt_max=0.0)
  _, sil_hi = stats(silence_max=2.0, interrupt_max=0.0)
  assert sil_hi > sil_lo + 0.05
  # The same speaker never overlaps themself, whatever the dials.
  for mix in mixes(bank, speakers, cfg(interrupt_max=3.0, pitch_prob=0.0, style=style)):
    for spk in mix.speakers:
      mine = [s for s in mix.segments if s[2] == spk]
      assert all(e1 < s2 for (_, e1, _), (s2, _, _) in zip(mine, mine[1:]))


def test_speaker_counts_and_weights(bank, speakers):
  # Relays: every drawn voice is heard (a conversation's crop may leave one out).
  c = cfg(num_speakers=4, speaker_weights=(1.0, 0.0, 3.0), min_secs=6.0, max_secs=10.0,
          noise_prob=0.0, pitch_prob=0.0, style="relay")
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
  c = cfg(num_speakers=4, noise_prob=0.0, pitch_prob=0.0, min_secs=6.0, max_secs=10.0,
          style="relay")
  counts = [len(m.speakers) for m in mixes(bank, speakers, c, n=150)]
  assert set(counts) == {2, 3, 4}
  assert min(np.bincount(counts)[2:]) > 25


@pytest.mark.parametrize("variant", ["tiny", "base"])
def test_every_drawn_speaker_heard_at_config_defaults(bank, speakers, variant):
  c = dataclasses.replace(mixtures.MixConfig.from_config(base.get_config(variant)),
                          pitch_prob=0.0, noise_prob=0.0, style="relay")
  for mix in mixes(bank, speakers, c, n=60, seed=3):
    assert len({s[2] for s in mix.segments}) == len(mix.speakers) >= 2


@STYLES
def test_lengths_and_segments_well_formed(bank, speakers, style):
  c = cfg(min_secs=3.0, max_secs=9.0, style=style, prompt_prob=0.3)
  lengths = []
  for mix in mixes(bank, speakers, c):
    secs = len(mix.audio) / SR
    lengths.append(secs)
    # A prompted chunk's clips may end short of their share, like diarize's last chunk.
    assert (c.min_secs if not mix.prompt else 0) <= secs <= c.max_secs
    assert mix.audio.dtype == np.float32 and np.abs(mix.audio).max() <= 0.99 + 1e-6
    assert mix.segments == sorted(mix.segments)
    for s, e, _ in mix.segments:
      assert 0 <= s < e <= secs + 1e-9
  assert max(lengths) - min(lengths) > 3  # the length is drawn, not fixed
  same = cfg(min_secs=5.0, max_secs=5.0, style=style, prompt_prob=0.0)
  assert {len(m.audio) for m in mixes(bank, speakers, same, n=10)} == {5 * SR}


@STYLES
def test_segment_budget_and_token_fit(bank, speakers, style):
  # Short pauses and long mixtures make many regions; a small label budget must hold.
  config = base.get_config("tiny")
  config.tokens.max_label_len = 16  # 5 triplets + EOS
  config.data.min_secs, config.data.max_secs = 8.0, 8.0
  c = dataclasses.replace(mixtures.MixConfig.from_config(config), style=style)
  assert c.max_segments == 5
  vocab = tokens.Vocab.from_config(config)
  hit = 0
  for mix in mixes(bank, speakers, dataclasses.replace(c, pitch_prob=0.0)):
    assert len(mix.segments) <= 5
    hit += len(mix.segments) == 5
    ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
    assert tokens.to_segments(ids, vocab)[1] == 0
  assert hit > 10  # the budget was actually binding
  # And at the real configs.
  for variant in ("tiny", "base"):
    config = base.get_config(variant)
    c = dataclasses.replace(mixtures.MixConfig.from_config(config), pitch_prob=0.0, style=style)
    vocab = tokens.Vocab.from_config(config)
    for mix in mixes(bank, speakers, c, n=20):
      ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
      segs, dropped = tokens.to_segments(ids, vocab)
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
    mixtures.make_relay(bank, speakers[:1], 0, 0, TINY)


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


def test_conversations_bring_voices_back(bank, speakers):
  """The default style is a conversation: most chunks have a voice that speaks more than once,
  many chunks start mid-turn (a crop of a longer conversation), and turns are short."""
  def stats(c):
    ms = mixes(bank, speakers, dataclasses.replace(c, pitch_prob=0.0), n=60, seed=5)
    returning = np.mean([mixtures.has_returning_voice(m.segments) for m in ms])
    at_zero = np.mean([m.segments[0][0] == 0.0 for m in ms])
    turns = np.median([e - s for m in ms for s, e, _ in m.segments])
    return returning, at_zero, turns
  # The silence dials (empty, solo, late starts) have tests of their own below.
  base_cfg = dataclasses.replace(mixtures.MixConfig.from_config(base.get_config("base")),
                                 empty_prob=0.0, solo_prob=0.0, lead_prob=0.0, trail_prob=0.0)
  returning, at_zero, turns = stats(base_cfg)
  assert base_cfg.style == "conversation"
  assert returning > 0.8 and at_zero > 0.3 and turns < 2.0, (returning, at_zero, turns)
  # Relays always start at the start of a conversation, with a gap.
  _, at_zero, _ = stats(dataclasses.replace(base_cfg, style="relay"))
  assert at_zero < 0.1, at_zero


def test_conversation_speaker_never_overlaps_themself(bank, speakers, monkeypatch):
  """Checked on each voice's raw turns (before per-speaker merging, which would hide it)."""
  placed = []
  real_turn = mixtures._Voices.turn

  def spy(self, k, rng, max_len, start):
    x, regions = real_turn(self, k, rng, max_len, start)
    placed.append((self, k, start, start + len(x)))  # the object itself: ids get reused
    return x, regions
  monkeypatch.setattr(mixtures._Voices, "turn", spy)
  c = cfg(backchannel_prob=0.5, interrupt_max=1.0, pitch_prob=0.0, prompt_prob=0.0)
  mixes(bank, speakers, c, n=40, seed=6)
  by_voice = {}
  for voices, k, a, b in placed:
    by_voice.setdefault((id(voices), k), []).append((a, b))
  assert len(placed) > 100
  for spans in by_voice.values():
    for (a1, b1), (a2, b2) in zip(spans, spans[1:]):
      assert a2 >= b1 or b1 == a1, (a1, b1, a2, b2)  # an empty turn places nothing


def test_prompted_examples_are_built_as_diarize_builds_chunks(bank, speakers):
  """make_prompted: clips of known voices, each at most prompt.clip_secs long and followed by
  SILENCE_SECS of digital silence, labelled with one segment per clip (letters 0..P-1 in
  prompt order, what diarize forces), then a conversation whose known voices keep those letters."""
  config = base.get_config("tiny")
  c = dataclasses.replace(mixtures.MixConfig.from_config(config), pitch_prob=0.0, noise_prob=0.0)
  vocab = tokens.Vocab.from_config(config)
  silence = int(prompt_lib.SILENCE_SECS * SR)
  n_prompts, reused = [], 0
  for i in range(40):
    mix = mixtures.make_prompted(bank, speakers, 4, i, c)
    assert len(mix.audio) <= c.max_secs * SR
    first = {}
    for s, e, w in mix.segments:
      first.setdefault(w, s)
    # Prompt clips: back to back, separated by exact silence, each its own voice.
    pos, k = 0, 0
    letters = {w: n for n, (w, _) in enumerate(sorted(first.items(), key=lambda x: x[1]))}
    prompt = []
    assert mix.prompt >= 1
    for s, e, w in mix.segments[:mix.prompt]:
      assert abs(s - pos / SR) < 1e-9 and first[w] == s
      n_clip = round((e - s) * SR)
      assert e - s <= prompt_lib.clip_secs(c.max_secs, 1) + 1e-6
      assert np.all(mix.audio[pos + n_clip:pos + n_clip + silence] == 0)
      assert letters[w] == k
      prompt.append(w)
      pos += n_clip + silence
      k += 1
    assert len(prompt) <= c.num_speakers
    per = prompt_lib.clip_secs(c.max_secs, len(prompt))
    assert all(e - s <= per + 1e-6 for s, e, w in mix.segments[:len(prompt)])
    n_prompts.append(len(prompt))
    after = [w for s, e, w in mix.segments if s >= pos / SR - 1e-9]
    reused += any(w in prompt for w in after)
    ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
    assert tokens.to_segments(ids, vocab)[1] == 0
    # The first len(prompt) triplets are the forced ones, in letter order.
    assert [int(x) - vocab.first_speaker for x in ids[2:3 * len(prompt):3]] == list(range(len(prompt)))
  assert len(set(n_prompts)) >= 2 and reused > 25  # known voices come back after the prompt


def test_training_and_inference_prompts_agree(bank, speakers):
  """The prompt clips of a training example, given to diarize's prompt builder, give back the
  example's prompt audio sample for sample, and forced ids equal to its first label triplets."""
  config = base.get_config("tiny")
  c = mixtures.MixConfig.from_config(config)
  vocab = tokens.Vocab.from_config(config)
  for i in range(20):
    mix = mixtures.make_prompted(bank, speakers, 6, i, c)
    clips = [mix.audio[round(s * SR):round(e * SR)] for s, e, _ in mix.segments[:mix.prompt]]
    audio, forced = prompt_lib.build(clips, c.max_secs, SR, vocab)
    assert len(audio) == sum(len(x) for x in clips) + mix.prompt * int(
        prompt_lib.SILENCE_SECS * SR)
    np.testing.assert_array_equal(mix.audio[:len(audio)], audio)
    ids = tokens.encode(mix.segments, vocab, config.tokens.max_label_len)
    assert forced == [int(x) for x in ids[:3 * mix.prompt]]


def test_prompt_prob_mixes_in_prompted_chunks(bank, speakers):
  c = cfg(prompt_prob=0.5, pitch_prob=0.0)
  same = [mixtures.make(bank, speakers, 9, i, c).audio.tobytes()
          == mixtures.make_prompted(bank, speakers, 9, i, c).audio.tobytes() for i in range(40)]
  assert 10 < sum(same) < 30


def test_speed_change_is_band_limited():
  """Speeding up moves a 7.9 kHz tone past Nyquist: it must be filtered out, not folded back
  to a lower frequency (np.interp's linear interpolation folds it at ~0.7 RMS); a 1 kHz tone
  keeps its level and becomes 1.1 kHz; labels scale with the length."""
  t = np.arange(3 * SR) / SR
  high = np.sin(2 * np.pi * 7900 * t).astype(np.float32)
  y, regions = mixtures._speed(high, np.array([[0, len(high)]]), 1.1)
  assert len(y) == round(len(high) / 1.1) and regions.tolist() == [[0, len(y)]]
  assert np.sqrt(np.mean(y ** 2)) < 0.01
  low = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
  y, _ = mixtures._speed(low, np.array([[0, len(low)]]), 1.1)
  assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - np.sqrt(0.5)) < 0.02
  spectrum = np.abs(np.fft.rfft(y))
  assert abs(np.argmax(spectrum) * SR / len(y) - 1100) < 5


# The silence dials (docs/design.md, "Data"): chunks that teach the model when nobody speaks.

def dbfs(x):
  return 20 * np.log10(max(float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))), 1e-20))


def test_empty_chunks_have_no_labels_and_only_quiet_sound(bank, speakers):
  from drzjax.data import pipeline  # noqa: PLC0415
  c = cfg(empty_prob=1.0)
  spec = pipeline.ExampleSpec("", "train", 0, c, tokens.Vocab(104, 4, 7.76), 64, 97, 0.08)
  kinds = set()
  for i in range(40):
    mix = mixtures.make(bank, speakers, 0, i, c)
    assert mix.segments == [] and mix.speakers == []
    assert c.min_secs * SR <= len(mix.audio) <= c.max_secs * SR
    (kind,) = mix.channel
    kinds.add(kind.split(" + ")[-1] if "+" in kind else kind.split(": ")[1].split()[-1])
    level = dbfs(mix.audio)
    if kind == "empty: silence":
      assert not mix.audio.any()
    else:  # a floor of -90..-45 dBFS; hum up to -35 dBFS; clicks are short bursts
      assert -92 < level < (-30 if ("hum" in kind or "clicks" in kind) else -44), (kind, level)
    ex = pipeline.to_example(mix, spec)
    assert ex["labels"][0] == tokens.EOS and not ex["labels"][1:].any()
    assert not ex["frames"].any()
  assert kinds == {"silence", "floor", "hum", "clicks"}


def test_solo_chunks_have_one_voice(bank, speakers):
  c = cfg(solo_prob=1.0, noise_prob=0.0, prompt_prob=0.0)  # a prompt may name a silent voice
  solo = mixes(bank, speakers, c, n=30, seed=4)
  voices = [{s[2] for s in m.segments} for m in solo]
  assert all(len(v) == 1 for v in voices) and all(len(m.speakers) == 1 for m in solo)
  assert len(set().union(*voices)) > 3  # different voices, not one stuck voice
  assert all(len(m.speakers) >= 2
             for m in mixes(bank, speakers, cfg(noise_prob=0.0, prompt_prob=0.0), n=30, seed=4))


@pytest.mark.parametrize("end", ["lead", "trail"])
def test_leading_and_trailing_silence(bank, speakers, end):
  """With the dial at 1 the chunk is silent (exact zeros: no noise) before the first / after
  the last labelled voice for the drawn share of it, and labels never reach into it."""
  c = cfg(noise_prob=0.0, speed_prob=0.0, pitch_prob=0.0, prompt_prob=0.0,
          **{f"{end}_prob": 1.0})
  gaps = []
  for i in range(30):
    mix = mixtures.make(bank, speakers, 5, i, c)
    q = mixtures.quiet_draws(5, i, c)
    share = q.lead if end == "lead" else q.trail
    assert share > 0 and end in mix.channel
    n = len(mix.audio)
    if not mix.segments:  # the silence left no room for a turn
      assert not mix.audio.any()
      continue
    if end == "lead":
      edge = min(s for s, _, _ in mix.segments)
      assert edge * SR >= int(share * n) - 1
      assert not mix.audio[:int(edge * SR)].any()
      gaps.append(edge / (n / SR))
    else:
      edge = max(e for _, e, _ in mix.segments)
      assert edge * SR <= n - int(share * n) + 1
      assert not mix.audio[int(np.ceil(edge * SR)) + 1:].any()
      gaps.append(1 - edge / (n / SR))
  assert max(gaps) > 0.5 and min(gaps) < 0.2  # any length, not one fixed gap


def test_far_chunks_are_quieter_same_labels(bank, speakers):
  near = cfg(noise_prob=0.0)
  far = cfg(noise_prob=0.0, far_prob=1.0)
  for i in range(10):
    a, b = mixtures.make(bank, speakers, 6, i, near), mixtures.make(bank, speakers, 6, i, far)
    q = mixtures.quiet_draws(6, i, far)
    assert a.segments == b.segments and 10 <= q.far_db <= 30
    assert dbfs(a.audio) - dbfs(b.audio) == pytest.approx(q.far_db, abs=0.01)


def test_dials_at_zero_change_nothing(bank, speakers):
  """The dials draw from their own stream: at 0 a chunk is the one the dials never touched."""
  c = cfg(noise_prob=0.5, prompt_prob=0.3)
  for i in range(12):
    a = mixtures.make(bank, speakers, 9, i, c)
    rng = np.random.default_rng([9, i, 1])
    b = (mixtures.make_prompted if rng.random() < c.prompt_prob else
         mixtures.make_conversation)(bank, speakers, 9, i, c)
    assert a.audio.tobytes() == b.audio.tobytes() and a.segments == b.segments
  with pytest.raises(ValueError, match="data.lead_prob"):
    bad = base.get_config("tiny")
    bad.data.lead_prob = 1.5
    mixtures.MixConfig.from_config(bad)
