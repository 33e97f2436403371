"""Token vocabulary: encode/decode round trips, lettering, ordering, quantisation, bad input."""
import numpy as np
import pytest

from drzjax import tokens

VOCAB = tokens.Vocab(512, 8, 30.0)  # 502 time bins over 30 s


def random_segments(rng, n, names="abcdefgh", max_secs=30.0):
  segs = []
  for _ in range(n):
    s = float(rng.uniform(0, max_secs))
    e = min(max_secs, s + float(rng.exponential(2.0)))
    segs.append((s, e, str(rng.choice(list(names)))))
  return segs


def test_round_trip_within_half_a_bin():
  rng = np.random.default_rng(0)
  half = VOCAB.bin_secs / 2 + 1e-9
  for trial in range(300):
    segs = random_segments(rng, int(rng.integers(0, 40)), names="abcdefgh"[:rng.integers(1, 9)])
    got, dropped = tokens.to_segments(tokens.encode(segs, VOCAB), VOCAB)
    assert dropped == 0 and len(got) == len(segs), (trial, segs)
    assert first_appearance_ok([k for *_, k in got])
    # Relabel: each original speaker must map to exactly one letter whose segments are its
    # segments, each end within half a bin (an end in the start's bin decodes to the start).
    by_letter = {}
    for s, e, k in got:
      by_letter.setdefault(k, []).append((s, e))
    by_name = {}
    for s, e, name in segs:
      by_name.setdefault(name, []).append((s, e))
    mapping = {}
    for name, mine in by_name.items():
      mine = sorted(mine, key=lambda x: (int(VOCAB.time_id(x[0])), int(VOCAB.time_id(x[1])), x))
      for k, theirs in by_letter.items():
        if len(theirs) == len(mine) and all(
            abs(gs - s) <= half and (abs(ge - e) <= half or ge == gs and e - s <= half)
            for (s, e), (gs, ge) in zip(mine, theirs)):
          mapping[name] = k
          break
      assert name in mapping, (trial, name, mine, by_letter)
    assert sorted(mapping.values()) == list(range(len(by_name)))


def first_appearance_ok(letters):
  used = 0
  for k in letters:
    if k > used:
      return False
    used = max(used, k + 1)
  return True


def test_letters_by_first_appearance_and_sorted():
  rng = np.random.default_rng(2)
  for _ in range(300):
    # Crowded starts: many segments share a start bin, the case that can reorder letters.
    segs = [(float(s), float(s + rng.uniform(0, 3)), str(rng.choice(list("pqrstu"))))
            for s in rng.uniform(0, 0.3, int(rng.integers(1, 12)))]
    ids = tokens.encode(segs, VOCAB)
    assert ids[-1] == tokens.EOS
    body = ids[:-1].reshape(-1, 3)
    letters = body[:, 2] - VOCAB.first_speaker
    assert first_appearance_ok(letters), body
    assert [tuple(t) for t in body.tolist()] == sorted(tuple(t) for t in body.tolist())
    assert tokens.to_segments(ids, VOCAB)[1] == 0


def test_same_start_bin_regression():
  # x starts first in continuous time, but y's triplet sorts first: y must be A.
  ids = tokens.encode([(0.0, 5.0, "x"), (0.01, 2.0, "y")], VOCAB)
  got, dropped = tokens.to_segments(ids, VOCAB)
  assert dropped == 0 and [k for *_, k in got] == [0, 1]
  assert got[0][1] < got[1][1]


def test_letter_names():
  assert [tokens.letter(k) for k in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "A1", "B1"]


def test_overlap_is_intersecting_triplets():
  segs = [(1.0, 4.0, "a"), (3.0, 6.0, "b"), (7.0, 8.0, "a")]
  got, _ = tokens.to_segments(tokens.encode(segs, VOCAB), VOCAB)
  (s0, e0, k0), (s1, e1, k1), (s2, e2, k2) = got
  assert (k0, k1, k2) == (0, 1, 0)
  assert s1 < e0  # A and B overlap
  assert e1 < s2  # B and the second A turn do not
  overlap = sum(max(0.0, min(e, e2_) - max(s, s2_))
                for i, (s, e, k) in enumerate(got) for (s2_, e2_, k2_) in got[i + 1:] if k != k2_)
  assert overlap == pytest.approx(1.0, abs=VOCAB.bin_secs)


def test_quantisation_error_matches_measurement():
  rng = np.random.default_rng(3)
  for vocab in (VOCAB, tokens.Vocab(128, 4, 8.0), tokens.Vocab(512, 8, 15.0)):
    t = rng.uniform(0, vocab.max_secs, 200_000)
    err = np.abs(vocab.time_of(vocab.time_id(t)) - t).mean()
    assert tokens.quantisation_error(vocab) == pytest.approx(err, rel=0.02)
  # About 15 ms at 30 s with 502 time bins.
  assert VOCAB.num_times == 502
  assert tokens.quantisation_error(VOCAB) == pytest.approx(0.015, abs=0.001)


def test_encode_pads_and_checks_length():
  segs = [(1.0, 2.0, "a"), (2.5, 3.0, "b")]
  ids = tokens.encode(segs, VOCAB, max_len=10)
  assert ids.dtype == np.int32 and len(ids) == 10
  assert list(ids[6:]) == [tokens.EOS, 0, 0, 0]
  assert tokens.to_segments(ids, VOCAB) == tokens.to_segments(ids[:7], VOCAB)
  with pytest.raises(ValueError, match="max_label_len"):
    tokens.encode(segs, VOCAB, max_len=6)
  assert list(tokens.encode([], VOCAB)) == [tokens.EOS]


def test_too_many_speakers_raises():
  segs = [(float(i), float(i) + 0.5, f"s{i}") for i in range(9)]
  with pytest.raises(ValueError, match="slots"):
    tokens.encode(segs, VOCAB)
  tokens.encode(segs[:8], VOCAB)  # exactly the slots is fine


def test_malformed_sequences_decode_and_count():
  v = VOCAB
  t = lambda secs: int(v.time_id(secs))  # noqa: E731
  A, B, C = (int(v.speaker_id(k)) for k in range(3))
  good = [t(1), t(2), A]
  cases = {
      "time where a letter belongs": ([t(1), t(2), t(3)] + good + [tokens.EOS], 1, 1),
      "letter where a time belongs": ([A, t(2), A] + good + [tokens.EOS], 1, 1),
      "end before start": ([t(3), t(2), A] + good + [tokens.EOS], 1, 1),
      "letter skips an unused one": (good + [t(3), t(4), C] + [t(5), t(6), B, tokens.EOS], 1, 2),
      "trailing partial triplet": (good + [t(3), t(4), tokens.EOS], 1, 1),
      "trailing single token": (good + [t(3), tokens.EOS], 1, 1),
      "no EOS": (good + [t(3), t(4), B], 0, 2),
      "no EOS, partial": (good + [t(3)], 1, 1),
      "EOS only": ([tokens.EOS], 0, 0),
      "empty": ([], 0, 0),
      "PAD stops": (good + [0, t(3), t(4), B], 0, 1),
      "out of range id": ([t(1), t(2), v.size + 3, tokens.EOS], 1, 0),
  }
  for name, (ids, want_dropped, want_kept) in cases.items():
    segs, dropped = tokens.to_segments(np.asarray(ids, np.int32), v)
    assert (dropped, len(segs)) == (want_dropped, want_kept), name
    for s, e, k in segs:
      assert 0 <= s <= e <= v.max_secs and 0 <= k < v.speakers
  # Garbage never raises.
  rng = np.random.default_rng(4)
  for _ in range(200):
    ids = rng.integers(0, v.size, int(rng.integers(0, 40)))
    segs, dropped = tokens.to_segments(ids, v)
    assert dropped >= 0
    assert first_appearance_ok([k for *_, k in segs])


# --- The time axis shared by audio positions, time tokens and frame targets -------------------

@pytest.mark.parametrize("variant", ["tiny", "base"])
def test_time_bins_are_audio_positions(variant):
  """At the configs, one time bin is exactly one audio position, and the time token for bin k
  carries the same sinusoid as audio position k (the model adds sinusoid(t / frame_secs))."""
  from configs import base  # noqa: PLC0415
  from drzjax import model as model_lib  # noqa: PLC0415
  config = base.get_config(variant)
  cfg = model_lib.ModelConfig.from_config(config)
  vocab = tokens.Vocab.from_config(config)
  assert abs(vocab.bin_secs - cfg.frame_secs) < 1e-9
  # The last bin is the last position that exists: nothing is said about audio that isn't there.
  assert vocab.num_times == cfg.num_audio
  at = (np.arange(vocab.num_times)) * (vocab.bin_secs / cfg.frame_secs)
  np.testing.assert_allclose(model_lib.sinusoid(at, 64), model_lib.sinusoid(np.arange(len(at)), 64),
                             atol=1e-5)


def test_frame_targets_agree_with_tokens():
  """Column k of the frame targets is letter k of the token sequence, active exactly over the
  quantised [start, end) of its triplets; frames_to_segments inverts it."""
  v = tokens.Vocab(136, 8, 10.0)  # 80 ms bins
  secs = 0.08
  rng = np.random.default_rng(0)
  for _ in range(200):
    n = int(rng.integers(1, 8))
    segs = []
    for _ in range(n):
      s = float(rng.uniform(0, 9.5))
      segs.append((s, min(10.0, s + float(rng.uniform(0.05, 3))), str(rng.integers(4))))
    ids = tokens.encode(segs, v)
    decoded, dropped = tokens.to_segments(ids, v)
    assert dropped == 0
    f = tokens.frame_targets(segs, v, 126, secs)
    expect = np.zeros_like(f)
    for s, e, k in decoded:
      expect[int(round(s / secs)):int(round(e / secs)), k] = 1
    np.testing.assert_array_equal(f, expect)
    # Back to segments: per letter, the union of its quantised triplets.
    back = tokens.frames_to_segments(f > 0, secs)
    for k in range(8):
      a = np.zeros(126, bool)
      for s, e, kk in back:
        if kk == k:
          a[int(round(s / secs)):int(round(e / secs))] = True
      np.testing.assert_array_equal(a, f[:, k] > 0)


def test_frames_to_segments_clips_to_duration():
  active = np.zeros((10, 2), bool)
  active[2:9, 0] = True
  active[8:10, 1] = True
  assert tokens.frames_to_segments(active, 0.1, duration=0.75) == [(0.2, 0.75, 0)]
