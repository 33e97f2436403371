"""Channels that real recordings have (docs/design.md, "Data"), each a dial with a probability.

A model trained on clean synthetic voices calls the noise floor, breaths and room sound of real
recordings speakers, and has only timbre to tell voices apart. These effects put the mixture in
a channel:

Per voice, drawn once (a person keeps their microphone and place in the room through the
conversation): a random EQ (smooth gain curve over log frequency, with the low and high
roll-offs of a cheap microphone) and reverberation. The reverberant voices of one mixture share
one room: with `room="pyroomacoustics"` (the default) a room of data/rooms.py's pool of
image-source rooms (RT60 0.2-0.9 s), each voice at its own place in it, 0.5-4 m from the
microphone and as loud as that distance makes it; with `room="synthetic"` the earlier
hand-written response per voice (exponentially decaying noise, high frequencies dying faster,
after the direct sound). EQ and room are folded into one impulse response per voice
(`voice_responses`), applied to each turn.

Per mixture (`apply`): sounds that are not speech and must not be labelled as anyone - babble of
far voices, mains hum, clicks, breath-like bursts in the pauses -, a background floor so that
silence is never digital zero, and the telephone band (300-3400 Hz, 8 kHz, 8-bit mu-law).

Every draw is guarded by its probability, so with all dials at 0 a mixture is exactly what it
was without this module (same random stream).

Speed (BENCHMARKS.md, "Channel effects"): short responses (the EQ alone) are applied by
overlap-add with their spectrum computed once per voice; the floor is cut from a fixed pool of
coloured noise built once per process from a fixed seed, not drawn and filtered per mixture;
hum is one period tiled; the telephone band runs in float32 (soxr: ~1 ms per 10 s each way).
"""
import dataclasses
import functools
import math

import numpy as np
import scipy.fft
import scipy.signal

from drzjax import audio
from drzjax.data import levels
from drzjax.data import rooms

ROOMS = ("pyroomacoustics", "synthetic")
PHONE_RATE = 8000  # the telephone effect's sample rate

EFFECTS = ("eq", "reverb", "babble", "hum", "click", "breath", "floor", "telephone")


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
  """The dials; the defaults are configs/base.py's (the shipped model's recipe, MODEL.md)."""
  eq_prob: float = 0.5         # per voice: random EQ / microphone colouring
  reverb_prob: float = 0.3     # per voice: the voice is in the mixture's room (far-field)
  babble_prob: float = 0.2     # per mixture: far voices of other speakers, 15-30 dB down
  hum_prob: float = 0.1        # per mixture: 50/60 Hz mains hum with harmonics
  click_prob: float = 0.1      # per mixture: a few clicks / pops
  breath_prob: float = 0.3     # per mixture: breath-like noise bursts in the pauses
  floor_prob: float = 0.8      # per mixture: a low background floor (35-60 dB below speech)
  telephone_prob: float = 0.05  # per mixture: 300-3400 Hz band, 8-bit mu-law

  @classmethod
  def from_config(cls, config):
    c = config.channel
    for f in dataclasses.fields(cls):
      if not 0.0 <= c[f.name] <= 1.0:
        raise ValueError(f"channel.{f.name}={c[f.name]} must be a probability in [0, 1]")
    return cls(**{f.name: float(c[f.name]) for f in dataclasses.fields(cls)})

  @property
  def off(self):
    return not any(getattr(self, f.name) for f in dataclasses.fields(self))


OFF = ChannelConfig(**{f.name: 0.0 for f in dataclasses.fields(ChannelConfig)})


def _draw(rng, p):
  """True with probability p; draws nothing when p is 0 (keeps the stream of a clean config)."""
  return p > 0 and rng.random() < p


def _eq_filter(rng, sr, taps=129):
  """Linear-phase FIR: +-6 dB at 8 log-spaced frequencies, a 60-250 Hz low roll-off and a
  3.5-7.5 kHz high roll-off."""
  nyq = sr / 2
  freqs = np.geomspace(150, 0.9 * nyq, 8)
  gains_db = rng.uniform(-6, 6, len(freqs))
  low, high = rng.uniform(60, 250), min(rng.uniform(3500, 7500), 0.95 * nyq)
  grid = np.linspace(0, nyq, 65)
  curve = np.interp(np.log(np.maximum(grid, 1)), np.log(freqs), gains_db)
  curve = 10 ** (curve / 20)
  curve /= np.sqrt(1 + (low / np.maximum(grid, 1)) ** 4) * np.sqrt(1 + (grid / high) ** 8)
  curve[0] = 0.0
  return scipy.signal.firwin2(taps, grid, curve, fs=sr).astype(np.float32)


def _room(rng, sr):
  """A room impulse response: the direct sound, then a tail of decaying noise (RT60 0.15-0.8 s,
  direct-to-reverberant ratio 0-12 dB) that is darker than the direct sound."""
  rt60 = rng.uniform(0.15, 0.8)
  n = int(rt60 * sr)
  t = np.arange(n) / sr
  tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
  tail = scipy.signal.lfilter([1 - 0.6], [1, -0.6], tail)  # walls absorb the highs
  pre = int(rng.uniform(0.002, 0.01) * sr)  # the first reflection comes a little later
  tail[:pre] = 0
  drr = 10 ** (rng.uniform(0, 12) / 10)
  tail *= np.sqrt(1 / drr / max(float(np.sum(tail ** 2)), 1e-12))
  tail[0] = 1.0
  return tail.astype(np.float32)


SHORT = 1024  # responses up to this long go by overlap-add with a cached spectrum


@dataclasses.dataclass(frozen=True)
class Response:
  """One voice's impulse response; `delay` samples of it come before the direct sound (the EQ's
  linear-phase latency, the room's pre-ringing) and `gain` is the voice's level at the
  microphone against the other voices of its room (1 out of a room)."""
  h: np.ndarray = None
  delay: int = 0
  names: tuple = ()
  gain: float = 1.0
  spec: np.ndarray = dataclasses.field(default=None, repr=False, compare=False)

  def __post_init__(self):
    # A short response's spectrum, once per voice (its turns share it). 2048 points: blocks of
    # ~1900 samples, the fastest of 512..8192 for a 129-tap EQ here.
    if self.h is not None and len(self.h) <= SHORT and self.spec is None:
      object.__setattr__(self, "spec", scipy.fft.rfft(self.h, 2048))

  def __call__(self, x):
    """x through h, same length, the delay taken out so that labels stay put."""
    if self.h is None or len(x) == 0:
      return x
    if self.spec is not None:
      return _overlap_add(x, self.h, self.spec, self.delay)
    return scipy.signal.fftconvolve(x, self.h)[self.delay:self.delay + len(x)].astype(np.float32)


def _overlap_add(x, h, spec, delay):
  """x convolved with h (spectrum `spec`), samples [delay, delay + len(x)): blocks of x as one
  batched FFT, the tails added to the next block."""
  n_fft = 2 * (len(spec) - 1)
  m, n = len(h), len(x)
  b = n_fft - m + 1
  nb = -(-(n + delay) // b)
  xp = np.zeros(nb * b, np.float32)
  xp[:n] = x
  y = scipy.fft.irfft(scipy.fft.rfft(xp.reshape(nb, b), n_fft, axis=1) * spec, n_fft, axis=1)
  out = np.zeros((nb + 1) * b, np.float32)
  out[:nb * b] = y[:, :b].ravel()
  out[b:b + nb * b].reshape(nb, b)[:, :m - 1] += y[:, b:]
  return out[delay:delay + n]


def voice_responses(rng, cfg, sr, n, room="pyroomacoustics"):
  """The channels of a mixture's n voices, drawn once per mixture. The reverberant voices share
  one room of the pool (drawn at the first of them), each at its own place while places last."""
  if room not in ROOMS:
    raise ValueError(f"data.room={room!r}: choose one of {', '.join(ROOMS)}")
  out, where, places = [], None, []
  for _ in range(n):
    h, delay, names, gain = None, 0, (), 1.0
    if _draw(rng, cfg.eq_prob):
      h = _eq_filter(rng, sr)
      delay, names = (len(h) - 1) // 2, ("eq",)
    if _draw(rng, cfg.reverb_prob):
      if room == "synthetic":
        r = _room(rng, sr)
      else:
        if where is None:
          where = rooms.room(int(rng.integers(rooms.NUM_ROOMS)), sr)
          places = [int(k) for k in rng.permutation(rooms.POSITIONS)]
        k = places.pop(0)
        places.append(k)  # more voices than places: they share (never in base: 3 voices)
        r, gain = where.responses[k], float(where.gains[k])
        delay += rooms.PRE
      h = r if h is None else scipy.signal.oaconvolve(h, r).astype(np.float32)
      names += ("reverb",)
    out.append(Response(h, delay, names, gain))
  return out


def _at_db_below(noise, p_speech, db):
  """noise scaled to `db` dB below the speech power."""
  p = max(float(np.mean(noise ** 2)), 1e-20)
  return (noise * np.sqrt(p_speech / p / 10 ** (db / 10))).astype(np.float32)


def _babble(rng, bank, speakers, chosen, n, sr):
  """3-6 utterances of voices not in the mixture, summed, each from a random point, muffled."""
  others = [s for s in speakers if s not in chosen] or list(speakers)
  out = np.zeros(n, np.float32)
  for _ in range(int(rng.integers(3, 7))):
    utts = bank.utterances_of(others[int(rng.integers(len(others)))])
    x = bank.audio(utts[int(rng.integers(len(utts)))])
    if len(x) == 0:
      continue
    # The utterance looped from a random point, read in place (no tiled copy to n samples).
    start = int(rng.integers(len(x) * (n // len(x) + 2) - n)) % len(x)
    gain = np.float32(1 / max(float(np.sqrt(np.mean(x ** 2))), 1e-5))
    pos = 0
    while pos < n:
      m = min(len(x) - start, n - pos)
      out[pos:pos + m] += x[start:start + m] * gain
      pos, start = pos + m, 0
  return scipy.signal.lfilter(np.float32([0.3]), np.float32([1, -0.7]), out)  # far: darker


def hum(rng, n, sr):
  """50 or 60 Hz and 4 harmonics: one period (sr / gcd(sr, f0) samples) computed, then tiled."""
  f0 = 50 if rng.random() < 0.5 else 60
  amps = rng.uniform(0.1, 1.0, 5) / np.arange(1, 6)
  t = np.arange(min(n, sr // math.gcd(sr, f0))) / sr
  period = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 2 * np.pi))
               for k, a in enumerate(amps))
  return np.resize(period.astype(np.float32), n)


def clicks(rng, n, sr, level):
  out = np.zeros(n, np.float32)
  for _ in range(int(rng.integers(1, 9))):
    m = int(rng.uniform(0.001, 0.01) * sr)
    at = int(rng.integers(max(n - m, 1)))
    burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.2 * m + 1))
    out[at:at + m] += (level * rng.uniform(1, 4) * burst)[:n - at].astype(np.float32)
  return out


def _breaths(rng, n, sr, active):
  """1-4 bursts of 0.2-0.6 s band-passed noise under a smooth envelope, each of unit RMS, in
  pauses if there are any."""
  out = np.zeros(n, np.float32)
  quiet = np.flatnonzero(~active)
  sos = scipy.signal.butter(2, [300, 3000], btype="bandpass", fs=sr, output="sos")
  for _ in range(int(rng.integers(1, 5))):
    m = min(int(rng.uniform(0.2, 0.6) * sr), n)
    at = int(quiet[rng.integers(len(quiet))]) if len(quiet) else int(rng.integers(n))
    at = min(at, n - m)
    burst = scipy.signal.sosfilt(sos, rng.standard_normal(m)) * np.hanning(m)
    out[at:at + m] += (burst / max(float(np.sqrt(np.mean(burst ** 2))), 1e-9)).astype(np.float32)
  return out


FLOOR_POLES = 1 - np.geomspace(0.5, 0.01, 8)  # one-pole low-pass colours, white-ish to brown
FLOOR_SEED, FLOOR_LEN = 1919, 2 ** 18        # 16.4 s per colour, 8 MiB in all


@functools.lru_cache(maxsize=None)
def _floor_pool():
  """(8, FLOOR_LEN) float32: unit-power noise through each pole of FLOOR_POLES, made in the
  frequency domain so that every row is periodic: any circular slice of it is seamless. Built
  once per process from a fixed seed, so a mixture's floor depends only on its own draws."""
  rng = np.random.default_rng(FLOOR_SEED)
  spec = scipy.fft.rfft(rng.standard_normal((len(FLOOR_POLES), FLOOR_LEN)), axis=1)
  z = np.exp(-2j * np.pi * np.arange(spec.shape[1]) / FLOOR_LEN)
  x = scipy.fft.irfft(spec / (1 - FLOOR_POLES[:, None] * z), FLOOR_LEN, axis=1)
  return (x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True))).astype(np.float32)


def _floor(rng, n):
  """A background floor of n samples: a colour of the pool, from a random point, either way
  round in time and sign. 20x cheaper than drawing and filtering n samples."""
  pool = _floor_pool()
  row = pool[int(rng.integers(len(pool)))]
  at, flip = int(rng.integers(FLOOR_LEN)), rng.integers(2, size=2)
  x = row[at:at + n] if at + n <= FLOOR_LEN else np.take(row, np.arange(at, at + n), mode="wrap")
  x = x[::-1] if flip[0] else x
  return -x if flip[1] else x


def _mu_law(y):
  """8-bit mu-law quantisation (127 levels a side of the peak), float32."""
  scale = max(float(np.abs(y).max(initial=0.0)), 1e-6) / 0.9
  mu = 255.0
  c = np.round(np.log1p(np.float32(mu / scale) * np.abs(y)) * np.float32(127 / np.log1p(mu)))
  return np.copysign(np.expm1(c * np.float32(np.log1p(mu) / 127)) * np.float32(scale / mu),
                     y).astype(np.float32)


def _telephone(mix, sr):
  """A phone line as an 8 kHz recording delivers it: the 300-3400 Hz band, sampled at 8 kHz,
  8-bit mu-law, then back to `sr` with the resampler diarize reads files with (audio.resample), so
  nothing is left above 4 kHz. Quantising at `sr` instead (the earlier version) spread the
  mu-law noise over the whole band: real 8 kHz files, whose top band is empty, then doubled the
  shipped model's DER on ami-dev (MODEL.md, "Known failures"). float32 throughout: in float64
  this was the costliest effect per use."""
  sos = scipy.signal.butter(4, [300, 3400], btype="bandpass", fs=sr, output="sos")
  y = scipy.signal.sosfilt(sos.astype(np.float32), mix).astype(np.float32)
  if sr > PHONE_RATE:
    y = audio.resample(y, sr, PHONE_RATE)
  y = _mu_law(y)
  if sr > PHONE_RATE:
    y = audio.resample(y, PHONE_RATE, sr)
    y = np.pad(y, (0, max(0, len(mix) - len(y))))[:len(mix)]
  return y


def apply(mix, active, rng, cfg, bank, speakers, chosen, sr):
  """The per-mixture effects, in place on `mix`; `active` marks labelled speech. -> names."""
  names = []
  if cfg.off:
    return names
  n, p_speech = len(mix), levels.speech_power(mix, active)
  if _draw(rng, cfg.babble_prob):
    mix += _at_db_below(_babble(rng, bank, speakers, chosen, n, sr), p_speech,
                        rng.uniform(15, 30))
    names.append("babble")
  if _draw(rng, cfg.hum_prob):
    mix += _at_db_below(hum(rng, n, sr), p_speech, rng.uniform(25, 45))
    names.append("hum")
  if _draw(rng, cfg.click_prob):
    mix += clicks(rng, n, sr, np.sqrt(p_speech))
    names.append("click")
  if _draw(rng, cfg.breath_prob):
    mix += _breaths(rng, n, sr, active) * np.float32(np.sqrt(p_speech) *
                                                     10 ** (-rng.uniform(12, 25) / 20))
    names.append("breath")
  if _draw(rng, cfg.floor_prob):
    mix += _at_db_below(_floor(rng, n), p_speech, rng.uniform(35, 60))
    names.append("floor")
  if _draw(rng, cfg.telephone_prob):
    mix[:] = _telephone(mix, sr)
    names.append("telephone")
  return names
