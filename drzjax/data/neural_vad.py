"""Neural voice activity: speech regions from the segmentation network (drzjax/nets/segmentation.py).

The energy detector (drzjax/data/vad.py) counts breaths, clicks and trailing sounds as speech;
pyannote's segmentation-3.0 was trained on real meetings to mark who speaks, so "any speaker
active" is a speech detector that knows what speech is. Method (as pyannote's own inference):
  1. Windows of `WINDOW` samples (10 s, the network's training chunk) every `HOP` samples.
     HOP is a whole number of frames (296 x 270 samples, ~5 s), so every window's frames fall on
     one file-wide frame grid. A file longer than a window ends with a window flush with its end
     (start rounded down to the grid); a file shorter than a window is zero-padded to one, as
     pyannote pads (every window has one shape: one compilation, batched).
     The file gets `EDGE_FRAMES` (~1 s) of zeros at each end first: the first and last frames
     of a window are unsure (P ~0.4 in -80 dB silence at the start of LibriSpeech files), so
     those frames are made to fall on the padding, whose frames are then dropped.
  2. P(speech) per frame = 1 - P(empty powerset class), averaged over the windows that see it.
  3. Hysteresis: a region is a run of frames with P > `offset` holding a frame with P > `onset`.
     Frame f stands for samples [270 f + 360, 270 f + 630) (its receptive field's centre +-135).
  4. The energy detector's clean-up (`vad.clean_regions`): pad, merge gaps, drop short regions.

Measured on the 5 AMI dev excerpts (reference speech/non-speech agreement over the UEM, pooled;
onset/offset and the edge padding were chosen on these same files): 95.9 %, energy detector
70.2 %; 0.5/0.5 gives 94.1 %, no edge padding 94.5 %. The padding also shifts the windows' grid,
and over ten shifts (0-250 frames) the agreement ranges 92.0-95.9 %, mean 94.4 %: the 95.9 % is
partly the choice of shift on these files (MODEL.md, "Who is who"). Speed on 2 CPU cores shared with a
training run: 115x real time on a 30 min file, ~50x on 3-17 s utterances (each pays for whole
10 s windows); a bank of 0.87 h of LibriSpeech builds in 25 s (energy: 2 s).

Returns (k, 2) int64 [start, end) sample pairs, sorted and disjoint, like `vad.speech_regions`.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from drzjax.data import vad
from drzjax.nets import segmentation as seg

NAME = "segmentation-3.0-hysteresis-v1"   # what a bank's manifest records as its "vad"
SAMPLE_RATE = seg.SAMPLE_RATE
WINDOW = 10 * SAMPLE_RATE
HOP_FRAMES = 296                           # ~5 s; a whole number of frames keeps one grid
HOP = HOP_FRAMES * seg.FRAME_STEP
WINDOW_FRAMES = seg.num_frames(WINDOW)     # 589
EDGE_FRAMES = 60                           # ~1 s of zeros before and after the file
MAX_BATCH = 16                             # windows per call; batch sizes are powers of two


@functools.lru_cache(maxsize=1)
def _params():
  return seg.load()


@jax.jit
def _speech_prob(params, windows):
  """(B, WINDOW) -> (B, WINDOW_FRAMES) P(any speaker active)."""
  logp = seg.MODEL.apply(params, windows)
  return 1.0 - jnp.exp(logp[..., 0])


def window_starts(num_samples):
  """Start samples of the windows covering `num_samples` (all on the frame grid)."""
  if num_samples <= WINDOW:
    return np.zeros(1, np.int64)
  last = (num_samples - WINDOW) // seg.FRAME_STEP * seg.FRAME_STEP
  starts = np.arange(0, last, HOP, dtype=np.int64)
  return np.append(starts, last)


def speech_probability(wave, params=None, max_batch=MAX_BATCH, edge_frames=EDGE_FRAMES):
  """(F,) float32 P(speech) on the file-wide frame grid (frame f centred at 270 f + 495)."""
  wave = np.asarray(wave, np.float32)
  n = len(wave)
  if n < seg.RECEPTIVE_FIELD:
    return np.zeros(0, np.float32)
  if edge_frames:
    e = edge_frames * seg.FRAME_STEP
    prob = speech_probability(np.pad(wave, (e, e)), params, max_batch, 0)
    return prob[edge_frames:edge_frames + seg.num_frames(n)]
  params = _params() if params is None else params
  starts = window_starts(n)
  total = np.zeros(int(starts[-1]) // seg.FRAME_STEP + WINDOW_FRAMES, np.float64)
  # The file's own frames (not those of zero padding); the end-flush window, rounded down to the
  # grid, may stop a frame before num_frames(n), and that frame is left out.
  frames = min(seg.num_frames(n), len(total))
  count = np.zeros_like(total)
  for i in range(0, len(starts), max_batch):
    chunk = starts[i:i + max_batch]
    size = 1 << int(np.ceil(np.log2(len(chunk))))  # few batch shapes: few compilations
    batch = np.zeros((size, WINDOW), np.float32)
    for j, s in enumerate(chunk):
      piece = wave[s:s + WINDOW]
      batch[j, :len(piece)] = piece
    prob = np.asarray(_speech_prob(params, batch))
    for j, s in enumerate(chunk):
      f = int(s) // seg.FRAME_STEP
      total[f:f + WINDOW_FRAMES] += prob[j]
      count[f:f + WINDOW_FRAMES] += 1
  return (total[:frames] / np.maximum(count[:frames], 1)).astype(np.float32)


class Stream:
  """`speech_probability` of a file read piece by piece (diarize streams its input): the same
  windows on the same frame grid, each run once as soon as its audio has arrived, so at most a
  window and a piece of audio are held. `add(samples)` any number of times, then `finish()` ->
  (F,) float32, equal to speech_probability(the whole file)."""

  def __init__(self, params=None):
    self.params = _params() if params is None else params
    self.edge = EDGE_FRAMES * seg.FRAME_STEP
    self.buf = np.zeros(self.edge, np.float32)  # the leading edge padding, then the audio
    self.buf_start = 0   # index in the padded file of buf[0]
    self.next = 0        # start of the next regular window (a multiple of HOP)
    self.done = set()    # starts of the windows run
    self.n = 0           # samples of the file so far
    self.total = np.zeros(0, np.float64)
    self.count = np.zeros(0, np.float64)

  def _run(self, start, x):
    prob = np.asarray(_speech_prob(self.params, x[None]))[0]
    f = start // seg.FRAME_STEP
    if len(self.total) < f + WINDOW_FRAMES:
      grow = f + WINDOW_FRAMES - len(self.total)
      self.total, self.count = np.pad(self.total, (0, grow)), np.pad(self.count, (0, grow))
    self.total[f:f + WINDOW_FRAMES] += prob
    self.count[f:f + WINDOW_FRAMES] += 1
    self.done.add(start)

  def _regular(self):
    while self.next + WINDOW <= self.buf_start + len(self.buf):
      a = self.next - self.buf_start
      self._run(self.next, self.buf[a:a + WINDOW])
      self.next += HOP
    # The end-flush window starts at or after the last regular one: keep audio from there.
    keep = max(0, self.next - HOP - self.buf_start)
    self.buf, self.buf_start = self.buf[keep:], self.buf_start + keep

  def add(self, samples):
    self.buf = np.concatenate([self.buf, np.asarray(samples, np.float32)])
    self.n += len(samples)
    self._regular()

  def finish(self):
    n = self.n
    if n < seg.RECEPTIVE_FIELD:
      return np.zeros(0, np.float32)
    self.buf = np.concatenate([self.buf, np.zeros(self.edge, np.float32)])
    padded = n + 2 * self.edge
    self._regular()
    if padded <= WINDOW:  # one zero-padded window, as window_starts gives
      x = np.zeros(WINDOW, np.float32)
      x[:len(self.buf)] = self.buf
      self._run(0, x)
    else:
      last = (padded - WINDOW) // seg.FRAME_STEP * seg.FRAME_STEP
      if last not in self.done:
        a = last - self.buf_start
        self._run(last, self.buf[a:a + WINDOW])
    frames = min(seg.num_frames(padded), len(self.total))
    prob = self.total[:frames] / np.maximum(self.count[:frames], 1)
    return prob[EDGE_FRAMES:EDGE_FRAMES + seg.num_frames(n)].astype(np.float32)


def regions_from_probability(prob, num_samples, sample_rate=SAMPLE_RATE, onset=0.5,
                             offset=0.35, min_speech=0.2, min_gap=0.3, pad=0.05):
  """Speech regions from per-frame P(speech) (hysteresis, then `vad.clean_regions`)."""
  prob = np.asarray(prob)
  if len(prob) == 0:
    return np.zeros((0, 2), np.int64)
  low, high = prob > offset, prob > onset
  edges = np.diff(np.concatenate([[0], low.astype(np.int8), [0]]))
  starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
  csum = np.concatenate([[0], np.cumsum(high)])
  keep = csum[ends] > csum[starts]
  starts, ends = starts[keep], ends[keep]
  half = (seg.RECEPTIVE_FIELD - 1) // 2 - seg.FRAME_STEP // 2   # 360: frame f's share starts here
  a = starts * seg.FRAME_STEP + half
  b = ends * seg.FRAME_STEP + half
  a[starts == 0] = 0                    # the first and last frames reach the file's ends
  b[ends == len(prob)] = num_samples
  regions = np.stack([a, b], 1).astype(np.int64)
  return vad.clean_regions(regions, num_samples, sample_rate, min_speech, min_gap, pad)


def speech_regions(wave, sample_rate=SAMPLE_RATE, params=None, onset=0.5, offset=0.35, **kw):
  """(k, 2) int64 [start, end) sample regions of speech in a 16 kHz mono waveform."""
  if sample_rate != SAMPLE_RATE:
    raise ValueError(f"the segmentation network takes {SAMPLE_RATE} Hz audio, not {sample_rate}")
  prob = speech_probability(wave, params)
  return regions_from_probability(prob, len(wave), sample_rate, onset, offset, **kw)
