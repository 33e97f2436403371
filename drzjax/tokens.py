"""The label vocabulary (docs/design.md, "Tokens"): PAD, EOS, quantised time bins, speaker letters.

  id 0            PAD (never predicted, ignored by the loss)
  id 1            EOS
  ids 2..2+T-1    time bin k = round(t / max_secs * (T - 1)); its inverse is the bin centre
  last S ids      speaker letters A, B, C, ... in order of first appearance in the chunk

Time axis shared with the audio (docs/design.md, "Coordinates"): the model's audio position i is
centred at i * frame_secs; time tokens and frame targets use the same seconds, so a time bin as
wide as a position (the base config) is exactly one position.

A segment is (start_secs, end_secs, speaker) with any hashable speaker; encoding sorts triplets
by (start, end, letter) and names speakers by first appearance, so one chunk has one sequence.
"""
import dataclasses
import string

import numpy as np

PAD = 0
EOS = 1


@dataclasses.dataclass(frozen=True)
class Vocab:
  """The ids of one config (`from_config`); the defaults are configs/base.py's base variant
  (tests/test_config.py holds them to it)."""
  size: int = 136
  speakers: int = 8
  max_secs: float = 10.0

  def __post_init__(self):
    if self.num_times < 2:
      raise ValueError(f"vocab of {self.size} ids with {self.speakers} speaker slots leaves "
                       f"{self.num_times} time bins; need at least 2")

  @classmethod
  def from_config(cls, config):
    return cls(config.tokens.vocab_size, config.tokens.speaker_slots, config.data.max_secs)

  @property
  def num_times(self):
    return self.size - 2 - self.speakers

  @property
  def first_speaker(self):
    return self.size - self.speakers

  @property
  def bin_secs(self):
    return self.max_secs / (self.num_times - 1)

  def time_id(self, t):
    """Seconds -> time-bin id (vectorised); times are clipped to [0, max_secs]."""
    t = np.clip(np.asarray(t, np.float64), 0.0, self.max_secs)
    return 2 + np.rint(t / self.bin_secs).astype(np.int32)

  def time_of(self, ids):
    """Time-bin id -> seconds at the bin centre (vectorised)."""
    return (np.asarray(ids) - 2) * self.bin_secs

  def speaker_id(self, k):
    return self.first_speaker + np.asarray(k, np.int32)

  # The token-class rules, written once; ids may be numpy or jax arrays (traced included).
  def is_time(self, ids):
    ids = ids if hasattr(ids, "shape") else np.asarray(ids)
    return (ids >= 2) & (ids < self.first_speaker)

  def is_speaker(self, ids):
    ids = ids if hasattr(ids, "shape") else np.asarray(ids)
    return (ids >= self.first_speaker) & (ids < self.size)


def letter(k):
  """Speaker index -> letter name: 0 -> A, 25 -> Z, 26 -> A1 ..."""
  return string.ascii_uppercase[k % 26] + (str(k // 26) if k >= 26 else "")


def quantisation_error(vocab):
  """Mean absolute error (seconds) of a uniformly random time in [0, max_secs] after a round trip.

  Interior bins have width w = max_secs / (T - 1) and mean error w / 4; the two edge bins are half
  as wide, which is negligible for T in the hundreds, so the formula is w / 4.
  """
  return vocab.bin_secs / 4


def canonical(segments, vocab):
  """Quantise, order and letter a list of (start, end, speaker) segments.

  Returns a list of (start_id, end_id, letter_index) sorted by (start, end, letter), with
  letters given by first appearance. Raises ValueError if there are more speakers than slots.
  Segments of zero quantised length are kept (end bin == start bin is a valid triplet).
  """
  segments = list(segments)
  if not segments:
    return []
  starts = vocab.time_id([s[0] for s in segments])
  ends = np.maximum(vocab.time_id([s[1] for s in segments]), starts)
  # First appearance is taken in the order of the quantised sequence (ties broken by the
  # continuous times), not of the continuous times alone: otherwise two speakers starting in
  # the same bin could put letter B before A, a sequence that `to_segments` rejects.
  order = sorted(range(len(segments)), key=lambda i: (int(starts[i]), int(ends[i]),
                                                      float(segments[i][0]),
                                                      float(segments[i][1])))
  names = {}
  for i in order:
    names.setdefault(segments[i][2], len(names))
  if len(names) > vocab.speakers:
    raise ValueError(f"{len(names)} speakers in one chunk, but only {vocab.speakers} slots")
  # Sorting by (start, end, letter) keeps first appearances in letter order (see above).
  return sorted((int(starts[i]), int(ends[i]), names[segments[i][2]]) for i in order)


def encode(segments, vocab, max_len=None):
  """Segments -> int32 ids `s e L s e L ... EOS` (no padding unless max_len is given)."""
  ids = []
  for s, e, k in canonical(segments, vocab):
    ids += [s, e, int(vocab.speaker_id(k))]
  ids.append(EOS)
  ids = np.asarray(ids, np.int32)
  if max_len is not None:
    if len(ids) > max_len:
      raise ValueError(f"{len(ids)} label tokens do not fit max_label_len={max_len}")
    ids = np.pad(ids, (0, max_len - len(ids)))
  return ids


def to_segments(ids, vocab):
  """ids -> (segments [(start_s, end_s, letter_index)], dropped).

  Never raises. Reads triplets until EOS or PAD; a triplet that breaks the grammar (a non-time in
  a time slot, end before start, a non-letter in the letter slot, a letter that skips an unused
  one) is dropped and counted; a trailing partial triplet counts as one dropped.
  """
  ids = [int(i) for i in np.asarray(ids).reshape(-1)]
  try:
    n = next(i for i, t in enumerate(ids) if t in (EOS, PAD))
  except StopIteration:
    n = len(ids)
  body = ids[:n]
  segments, dropped, used = [], 0, 0
  for i in range(0, len(body) - 2, 3):
    s, e, l = body[i:i + 3]
    ok = (vocab.is_time(s) and vocab.is_time(e) and e >= s and vocab.is_speaker(l)
          and l - vocab.first_speaker <= used)
    if not ok:
      dropped += 1
      continue
    k = l - vocab.first_speaker
    used = max(used, k + 1)
    segments.append((float(vocab.time_of(s)), float(vocab.time_of(e)), k))
  if len(body) % 3:
    dropped += 1
  return segments, dropped


# The example geometry, written once: the model, the features and the input pipeline read it
# from here.
def num_samples(max_secs, sample_rate):
  """Samples in one chunk (an example) of max_secs."""
  return int(round(max_secs * sample_rate))


def num_mel_frames(num_samples, hop):
  """Centred STFT frames of num_samples: 1 + num_samples // hop."""
  return 1 + num_samples // hop


def num_positions(num_samples, hop, strides):
  """Audio positions the model sees: the centred STFT frames (num_mel_frames), then each
  stride-s convolution (kernel 3, padding 1) keeps ceil(n / s) of them."""
  n = num_mel_frames(num_samples, hop)
  for s in strides:
    n = -(-n // s)
  return n


def frame_secs(sample_rate, hop, strides):
  """Seconds between audio positions (position i is centred at i * frame_secs)."""
  return hop * int(np.prod(strides)) / sample_rate


def frame_targets(segments, vocab, num_frames, secs):
  """(num_frames, vocab.speakers) float32 speaker activity in arrival order, agreeing with the
  tokens: letter k of `encode` is column k, and a segment covers the positions whose centre
  i * secs lies in [start, end) of its quantised times."""
  out = np.zeros((num_frames, vocab.speakers), np.float32)
  for s, e, k in canonical(segments, vocab):
    a = int(np.ceil(vocab.time_of(s) / secs - 1e-6))
    b = int(np.ceil(vocab.time_of(e) / secs - 1e-6))
    out[max(a, 0):max(b, 0), k] = 1.0
  return out


def frames_to_segments(active, secs, duration=None):
  """(num_frames, S) bool activity -> [(start_s, end_s, slot)] sorted: each run of frames
  [a, b) of a slot becomes (a * secs, b * secs), the inverse of frame_targets; clipped to
  duration when given."""
  active = np.asarray(active, bool)
  segs = []
  for k in range(active.shape[1]):
    x = np.concatenate([[False], active[:, k], [False]]).astype(np.int8)
    d = np.diff(x)
    for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]):
      s, e = a * secs, b * secs
      if duration is not None:
        s, e = min(s, duration), min(e, duration)
      if e > s:
        segs.append((float(s), float(e), k))
  return sorted(segs)
