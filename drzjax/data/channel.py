"""Channels that real recordings have (docs/design.md, "Data"), each a dial with a probability.

A model trained on clean synthetic voices calls the noise floor, breaths and room sound of real
recordings speakers, and has only timbre to tell voices apart. These effects put the mixture in
a channel:

Per voice, drawn once (a person keeps their microphone and place in the room through the
conversation): a random EQ (smooth gain curve over log frequency, with the low and high
roll-offs of a cheap microphone) and reverberation (a synthetic room impulse response:
exponentially decaying noise, high frequencies dying faster, after the direct sound). Both are
folded into one impulse response per voice (`voice_response`), applied to each turn.

Per mixture (`apply`): sounds that are not speech and must not be labelled as anyone - babble of
far voices, mains hum, clicks, breath-like bursts in the pauses -, a background floor so that
silence is never digital zero, and the telephone band (300-3400 Hz, 8-bit mu-law).

Every draw is guarded by its probability, so with all dials at 0 a mixture is exactly what it
was without this module (same random stream).
"""
import dataclasses

import numpy as np
import scipy.signal

from drzjax.data import levels

EFFECTS = ("eq", "reverb", "babble", "hum", "click", "breath", "floor", "telephone")


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
  """The dials; the defaults are configs/base.py's (the shipped model's recipe, MODEL.md)."""
  eq_prob: float = 0.5         # per voice: random EQ / microphone colouring
  reverb_prob: float = 0.3     # per voice: synthetic room reverberation
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


@dataclasses.dataclass(frozen=True)
class Response:
  """One voice's impulse response; `delay` samples of it are the EQ's linear-phase latency."""
  h: np.ndarray = None
  delay: int = 0
  names: tuple = ()

  def __call__(self, x):
    """x through h, same length, the delay taken out so that labels stay put."""
    if self.h is None or len(x) == 0:
      return x
    return scipy.signal.fftconvolve(x, self.h)[self.delay:self.delay + len(x)].astype(np.float32)


def voice_response(rng, cfg, sr):
  """One voice's channel, drawn once per voice per mixture."""
  h, delay, names = None, 0, ()
  if _draw(rng, cfg.eq_prob):
    h = _eq_filter(rng, sr)
    delay, names = (len(h) - 1) // 2, ("eq",)
  if _draw(rng, cfg.reverb_prob):
    room = _room(rng, sr)
    h = room if h is None else np.convolve(h, room).astype(np.float32)
    names += ("reverb",)
  return Response(h, delay, names)


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
    x = np.tile(x, n // len(x) + 2)
    start = int(rng.integers(len(x) - n))
    out += x[start:start + n] / max(float(np.sqrt(np.mean(x ** 2))), 1e-5)
  return scipy.signal.lfilter(np.float32([0.3]), np.float32([1, -0.7]), out)  # far: darker


def hum(rng, n, sr):
  t = np.arange(n, dtype=np.float32) / np.float32(sr)  # float32: these run over the mixture
  f0 = 50.0 if rng.random() < 0.5 else 60.0
  amps = rng.uniform(0.1, 1.0, 5) / np.arange(1, 6)
  return sum(np.float32(a) * np.sin(np.float32(2 * np.pi * f0 * (k + 1)) * t
                                    + np.float32(rng.uniform(0, 2 * np.pi)))
             for k, a in enumerate(amps)).astype(np.float32)


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


def _telephone(mix, sr):
  sos = scipy.signal.butter(4, [300, 3400], btype="bandpass", fs=sr, output="sos")
  y = scipy.signal.sosfilt(sos, mix)
  scale = max(float(np.abs(y).max(initial=0.0)), 1e-6) / 0.9
  mu = 255.0
  c = np.sign(y / scale) * np.log1p(mu * np.abs(y / scale)) / np.log1p(mu)
  c = np.round(c * 127) / 127  # 8 bits
  return (np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * scale).astype(np.float32)


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
    floor = scipy.signal.lfilter(np.float32([1.0]), np.float32([1, -rng.uniform(0.5, 0.99)]),
                                 rng.standard_normal(n, dtype=np.float32))
    mix += _at_db_below(floor, p_speech, rng.uniform(35, 60))
    names.append("floor")
  if _draw(rng, cfg.telephone_prob):
    mix[:] = _telephone(mix, sr)
    names.append("telephone")
  return names
