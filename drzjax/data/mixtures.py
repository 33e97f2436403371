"""Seeded mixture synthesis (docs/design.md): a mixture is a pure function of (seed, index, config).

Two styles. A *conversation* (the default, `make_conversation`) is what diarization is mostly
about: voices return. Any speaker but the current one may take the next turn (speakers drawn
with replacement into the turn order, after everyone has spoken once), turns last
[min_turn_secs, max_turn_secs], a turn may carry a short backchannel from another voice inside
it, and the chunk is a random-offset crop of a longer conversation, so it can start in the
middle of a turn, as `diarize`'s later chunks do.

A *relay* (`make_relay`, nanodrz's) is built turn by turn. Speakers alternate (every drawn speaker gets a turn before any
speaks twice); the gap before a turn is drawn from [-interrupt_max, silence_max] seconds, a
negative gap being an interruption (overlap with the previous turn). A turn is a slice of one of
the speaker's utterances that starts at the start of a speech region and ends at the end of one,
so labels come from voice activity, not file edges. Each speaker has a gain and may get a speed
change, a pitch shift and a slow sinusoidal volume; noise is added at a drawn SNR. Labels are one
(start, end, speaker) per speech region, merged where one speaker's regions touch.
"""
import dataclasses
import functools

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import soxr

from drzjax import intervals
from drzjax import prompt as prompt_lib
from drzjax import tokens
from drzjax.data import channel as channel_lib
from drzjax.data import levels

MIN_TURN_SECS = 0.5  # room kept for each speaker who has not spoken yet


@dataclasses.dataclass(frozen=True)
class MixConfig:
  """The mixture dials, from the config (`from_config`); the defaults are configs/base.py's
  base variant (tests/test_config.py holds them to it)."""
  sample_rate: int = 16000
  min_secs: float = 5.0
  max_secs: float = 10.0
  num_speakers: int = 3
  speaker_weights: tuple = ()
  silence_max: float = 1.0
  interrupt_max: float = 0.5
  max_turn_secs: float = 3.0
  gain_db: float = 6.0
  noise_prob: float = 0.5
  snr_min: float = 10.0
  snr_max: float = 40.0
  speed_prob: float = 0.2
  speed_range: float = 0.1
  pitch_prob: float = 0.1
  pitch_semitones: float = 2.0
  volume_prob: float = 0.2
  volume_depth: float = 0.5
  max_segments: int = 30
  style: str = "conversation"
  min_turn_secs: float = 0.3
  backchannel_prob: float = 0.2
  crop_secs: float = 3.0
  prompt_prob: float = 0.3
  # Chunks that teach the model when nobody speaks (conversations only; see `make`).
  empty_prob: float = 0.05   # no speech at all: digital silence, a noise floor, hum, clicks
  solo_prob: float = 0.1     # one voice alone for the whole chunk
  lead_prob: float = 0.15    # silence (any length) before the first voice
  trail_prob: float = 0.15   # the voices stop early: silence (any length) to the end
  far_prob: float = 0.1      # the whole chunk 10-30 dB quieter (far-field, quiet talkers)
  room: str = "pyroomacoustics"  # reverberation: data/rooms.py's rooms or "synthetic" (channel.py)
  channel: channel_lib.ChannelConfig = channel_lib.ChannelConfig()  # conversations only

  @classmethod
  def from_config(cls, config):
    d = config.data
    weights = tuple(float(w) for w in d.speaker_weights.split(",")) if d.speaker_weights else ()
    if weights and len(weights) != d.num_speakers - 1:
      raise ValueError(f"data.speaker_weights has {len(weights)} entries; need one per speaker "
                       f"count 2..{d.num_speakers} ({d.num_speakers - 1})")
    if d.num_speakers < 2 or d.num_speakers > config.tokens.speaker_slots:
      raise ValueError(f"data.num_speakers={d.num_speakers} must be in 2..tokens.speaker_slots "
                       f"({config.tokens.speaker_slots})")
    if d.style not in ("conversation", "relay"):
      raise ValueError(f"data.style={d.style!r}: choose 'conversation' or 'relay'")
    for key in ("empty_prob", "solo_prob", "lead_prob", "trail_prob", "far_prob"):
      if not 0.0 <= d[key] <= 1.0:
        raise ValueError(f"data.{key}={d[key]} must be a probability in [0, 1]")
    if d.room not in channel_lib.ROOMS:
      raise ValueError(f"data.room={d.room!r}: choose one of {', '.join(channel_lib.ROOMS)}")
    if not 0 < d.min_turn_secs <= d.max_turn_secs:
      raise ValueError(f"data.min_turn_secs={d.min_turn_secs} must be in (0, data.max_turn_secs"
                       f"={d.max_turn_secs}]")
    return cls(sample_rate=d.sample_rate, min_secs=d.min_secs, max_secs=d.max_secs,
               num_speakers=d.num_speakers, speaker_weights=weights, silence_max=d.silence_max,
               interrupt_max=d.interrupt_max, max_turn_secs=d.max_turn_secs, gain_db=d.gain_db,
               noise_prob=d.noise_prob, snr_min=d.snr_min, snr_max=d.snr_max,
               speed_prob=d.speed_prob, speed_range=d.speed_range, pitch_prob=d.pitch_prob,
               pitch_semitones=d.pitch_semitones, volume_prob=d.volume_prob,
               volume_depth=d.volume_depth, max_segments=(config.tokens.max_label_len - 1) // 3,
               style=d.style, min_turn_secs=d.min_turn_secs,
               backchannel_prob=d.backchannel_prob, crop_secs=d.crop_secs,
               prompt_prob=d.prompt_prob, empty_prob=d.empty_prob, solo_prob=d.solo_prob,
               lead_prob=d.lead_prob, trail_prob=d.trail_prob, far_prob=d.far_prob,
               room=d.room, channel=channel_lib.ChannelConfig.from_config(config))


@dataclasses.dataclass
class Mixture:
  audio: np.ndarray   # (n,) float32
  segments: list      # [(start_s, end_s, speaker_name)], sorted by start
  speakers: list      # speaker names in the order drawn
  prompt: int = 0     # leading segments that are prompt clips (make_prompted), else 0
  channel: tuple = () # channel effects applied (drzjax.data.channel), e.g. ("eq x2", "floor")


def rng_for(seed, index):
  """The only source of randomness for mixture `index`: independent of every other index."""
  return np.random.default_rng([int(seed), int(index)])


def _turn_slice(bank, utt, rng, max_len):
  """A slice of `utt` from a region start to a region end, at most max_len samples."""
  regions = utt.regions
  i = int(rng.integers(len(regions)))
  start = int(regions[i, 0])
  ok = np.nonzero(regions[i:, 1] - start <= max_len)[0]
  if len(ok) == 0:  # the first region alone is too long: cut it
    return bank.audio(utt, start, start + max_len), np.array([[0, max_len]], np.int64)
  j = i + int(rng.choice(ok))
  end = int(regions[j, 1])
  return bank.audio(utt, start, end), regions[i:j + 1] - start


def _speed(x, regions, factor):
  """Resample so that playback is `factor` times faster (tempo and pitch, like nanodrz): read
  as if recorded at factor x the rate. soxr band-limits (linear interpolation would alias)."""
  n = max(1, int(round(len(x) / factor)))
  y = soxr.resample(x, factor * 16000, 16000, quality="MQ")  # only the ratio matters
  return (librosa.util.fix_length(y, size=n).astype(np.float32, copy=False),
          np.minimum(np.rint(regions / factor).astype(np.int64), n))


@functools.lru_cache(maxsize=None)
def _hann(n):
  return scipy.signal.get_window("hann", n).astype(np.float32)


def _pitch_shift(x, sr, semitones, n_fft=1024, hop=256):
  """Shift the pitch by `semitones`, keeping the length and tempo.

  librosa.effects.pitch_shift's method (phase-vocoder time stretch by 2^(n/12), then resample
  back), vectorised over frames: librosa's vocoder loops over frames in Python and was the
  hot spot of make_relay. 64 ms frames resolve the harmonics of speech at 16 kHz.
  """
  rate = 2.0 ** (-semitones / 12)  # time-stretch rate, as in librosa
  win = _hann(n_fft)
  xp = np.pad(x.astype(np.float32, copy=False), n_fft // 2)
  n_frames = 1 + (len(xp) - n_fft) // hop
  frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:n_frames]
  spec = scipy.fft.rfft(frames * win, axis=1)
  spec = np.concatenate([spec, np.zeros((2, spec.shape[1]), spec.dtype)])  # frame i+1 at the end
  steps = np.arange(0, n_frames, rate)
  i = steps.astype(np.int64)
  frac = (steps - i).astype(np.float32)[:, None]
  mag = np.abs(spec)
  mag = mag[i] + frac * (mag[i + 1] - mag[i])
  # Phase: frame 0's, then advanced by the phase difference between the two input frames each
  # output frame reads. Multiplying unit phasors equals the classic wrapped-difference sum mod
  # 2 pi, without atan2/cos/sin (slow here) and without float32 drift of a growing phase sum.
  z = np.concatenate([spec[:1], spec[i[:-1] + 1] * spec[i[:-1]].conj()])
  az = np.abs(z)
  z = np.where(az > 0, z / np.maximum(az, 1e-30), 1).astype(np.complex64)
  out = scipy.fft.irfft(mag * np.cumprod(z, axis=0), n=n_fft, axis=1) * win
  # Overlap-add, one vectorised add per hop-sized quarter of the frame.
  t = len(steps)
  y = np.zeros(n_fft + hop * t, np.float32)
  wsum = np.zeros_like(y)
  for j in range(n_fft // hop):
    y[j * hop:(j + t) * hop] += out[:, j * hop:(j + 1) * hop].reshape(-1)
    wsum[j * hop:(j + t) * hop] += np.tile(win[j * hop:(j + 1) * hop] ** 2, t)
  y = (y / np.maximum(wsum, 1e-3))[n_fft // 2:n_fft // 2 + int(round(len(x) / rate))]
  y = librosa.resample(y, orig_sr=sr / rate, target_sr=sr, res_type="soxr_qq")
  return librosa.util.fix_length(y, size=len(x)).astype(np.float32)


def _draw_voices(rng, bank, speakers, cfg, solo=False):
  """2 .. num_speakers distinct voices of `speakers` (count weighted by speaker_weights; each
  voice by the bank's per-speaker probabilities, which weigh the banks of a MultiBank); one
  voice if `solo`."""
  counts = np.arange(1, 2) if solo else np.arange(2, cfg.num_speakers + 1)
  p_voice = bank.probabilities(speakers)
  counts = counts[counts <= (len(speakers) if p_voice is None else np.count_nonzero(p_voice))]
  p = (np.asarray(cfg.speaker_weights[:len(counts)], np.float64)
       if cfg.speaker_weights and not solo else None)
  n_spk = int(rng.choice(counts, p=None if p is None else p / p.sum()))
  return [speakers[i] for i in rng.choice(len(speakers), n_spk, replace=False, p=p_voice)]


def _next_voice(rng, first, prev, n_spk):
  """The voice of the next turn: those in `first` in order (popped; never the previous voice
  twice in a row), then anyone but the previous voice (a voice alone keeps the floor)."""
  if n_spk == 1:
    first.clear()
    return 0
  if first:
    k = int(first.pop(0))
    if k == prev and first:
      first.append(k)
      k = int(first.pop(0))
    return k
  others = [j for j in range(n_spk) if j != prev]
  return int(others[rng.integers(len(others))])


def _turn_start(rng, cfg, prev, prev_start, prev_end, last_end_k):
  """Sample where the next turn starts: a gap in [-interrupt_max, silence_max] after the last
  turn (negative: an interruption), never before the last turn's start, never inside this
  voice's own previous turn."""
  gap = rng.uniform(0 if prev < 0 else -cfg.interrupt_max, cfg.silence_max)
  return max(int(prev_end + gap * cfg.sample_rate), int(last_end_k), prev_start, 0)


def make_relay(bank, speakers, seed, index, cfg):
  """Mixture `index` of the stream `seed`, drawing from `speakers` (a list of bank speakers)."""
  if len(speakers) < 2:
    raise ValueError(f"need at least 2 speakers to mix, the split has {len(speakers)}")
  rng = rng_for(seed, index)
  sr = cfg.sample_rate
  chosen = _draw_voices(rng, bank, speakers, cfg)
  n_spk = len(chosen)
  total = int(rng.uniform(cfg.min_secs, cfg.max_secs) * sr)
  max_turn = int(cfg.max_turn_secs * sr)
  voices = _Voices(bank, chosen, rng, cfg, channel=False)  # after `total`: the relay's order

  mix = np.zeros(total, np.float32)
  labels = {k: [] for k in range(n_spk)}
  last_end = np.zeros(n_spk, np.int64)  # a speaker never overlaps themself
  prev, prev_end, prev_start, n_regions = -1, 0, 0, 0
  order = list(rng.permutation(n_spk))  # everyone speaks once before anyone speaks twice
  while n_regions < cfg.max_segments:
    k = _next_voice(rng, order, prev, n_spk)
    start = _turn_start(rng, cfg, prev, prev_start, prev_end, last_end[k])
    if start >= total - int(0.2 * sr):
      break
    # A speaker's first turn leaves room (a gap and MIN_TURN_SECS each) and label budget for
    # the speakers still waiting for theirs, so that every drawn speaker is heard: otherwise a
    # long first turn could leave no room and a 2-speaker draw end as a monologue.
    max_len, budget = max_turn, cfg.max_segments - n_regions
    if last_end[k] == 0:
      room = total - start - len(order) * int((cfg.silence_max + MIN_TURN_SECS) * sr)
      max_len = min(max_turn,
                    max(int(MIN_TURN_SECS * sr), int((room - 2) * voices.speed[k])))
      budget -= len(order)
    # max_len counts source samples here (a conversation's turn counts played ones).
    x, regions = voices.speech(k, rng, max_len)
    # Keep only whole regions that fit (the mixture end and the label budget), level the rest.
    keep = (start + regions[:, 1] <= total)
    keep &= np.arange(1, len(regions) + 1) <= budget
    regions = regions[:len(keep) if keep.all() else int(np.argmin(keep))]
    if len(regions) == 0:
      break
    x = voices.level(k, x, regions, start)
    mix[start:start + len(x)] += x
    labels[k] += [[start + a, start + b] for a, b in regions]
    n_regions += len(regions)
    last_end[k] = start + len(x)
    prev, prev_start, prev_end = k, start, start + len(x)

  _add_noise(mix, labels, rng, cfg)
  peak = float(np.abs(mix).max(initial=0.0))
  if peak > 0.99:
    mix *= np.float32(0.99 / peak)

  segments = sorted((a / sr, b / sr, chosen[k])
                    for k, regs in labels.items() for a, b in intervals.merge(regs))
  return Mixture(mix, segments, chosen)


class _Voices:
  """The speakers of one mixture with their per-speaker effects (drawn once, so a voice stays
  itself), rendering turns of their speech. `channel=False` (relays): no channel response,
  and nothing drawn for one."""

  def __init__(self, bank, chosen, rng, cfg, channel=True):
    n = len(chosen)
    self.bank, self.chosen, self.cfg = bank, chosen, cfg
    self.gain = 10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db, n) / 20)
    self.speed = np.where(rng.random(n) < cfg.speed_prob,
                          rng.uniform(1 - cfg.speed_range, 1 + cfg.speed_range, n), 1.0)
    self.pitch = np.where(rng.random(n) < cfg.pitch_prob,
                          rng.uniform(-cfg.pitch_semitones, cfg.pitch_semitones, n), 0.0)
    self.volume = rng.random(n) < cfg.volume_prob
    self.vol_freq = rng.uniform(0.1, 0.5, n)
    self.vol_phase = rng.uniform(0, 2 * np.pi, n)
    self.response = (channel_lib.voice_responses(rng, cfg.channel, cfg.sample_rate, n, cfg.room)
                     if channel else [channel_lib.Response()] * n)

  def channel_names(self):
    """The per-voice effects, counted: ("eq x2", "reverb x1")."""
    names = [e for r in self.response for e in r.names]
    return tuple(f"{e} x{names.count(e)}" for e in channel_lib.EFFECTS if e in names)

  def turn(self, k, rng, max_len, start):
    """Speaker k's next turn of at most ~max_len samples placed at `start`: (audio, regions
    relative to the turn start), audio cut at its last region's end; regions may be empty."""
    x, regions = self.speech(k, rng, max(1, int(max_len * self.speed[k])))
    if len(regions) == 0:
      return x[:0], regions
    return self.level(k, x, regions, start), regions

  def speech(self, k, rng, max_len):
    """A slice of speaker k's speech of at most max_len source samples, sped up, pitched and
    through the voice's channel: (audio, non-empty regions relative to its start)."""
    utts = self.bank.utterances_of(self.chosen[k])
    x, regions = _turn_slice(self.bank, utts[int(rng.integers(len(utts)))], rng, max_len)
    if self.speed[k] != 1.0:
      x, regions = _speed(x, regions, self.speed[k])
    if self.pitch[k] != 0.0:
      x = _pitch_shift(x, self.cfg.sample_rate, float(self.pitch[k]))
    return self.response[k](x), regions[regions[:, 1] - regions[:, 0] > 0]

  def level(self, k, x, regions, start):
    """x cut at the end of its last region (non-empty `regions`), its speech at speaker k's
    level, with the volume sway of a turn placed at `start`."""
    sr = self.cfg.sample_rate
    x = x[:regions[-1, 1]]
    speech = np.concatenate([x[a:b] for a, b in regions])
    # float32 throughout: a float64 scalar or time axis would make float64 copies of the turn.
    rms = max(float(np.sqrt(np.mean(speech ** 2))), 1e-5)
    # response gain: a voice far from the microphone of its room is quieter than a near one.
    x = x * np.float32(levels.REF_RMS / rms * self.gain[k] * self.response[k].gain)
    if self.volume[k]:
      phase = (2 * np.pi * self.vol_freq[k] / sr) * (start + np.arange(len(x))) + self.vol_phase[k]
      x *= (1 - self.cfg.volume_depth / 2 * (1 + np.sin(phase.astype(np.float32))))
    return x


def _active(labels, total):
  """(total,) bool: samples inside some voice's labelled speech."""
  active = np.zeros(total, bool)
  for regs in labels.values():
    for a, b in regs:
      active[max(a, 0):max(b, 0)] = True
  return active


def _add_noise(mix, labels, rng, cfg):
  """Noise at a drawn SNR (relative to the speech power), white or brown-ish, in place."""
  if rng.random() >= cfg.noise_prob:
    return
  total = len(mix)
  snr = rng.uniform(cfg.snr_min, cfg.snr_max)
  # Uniform, not Gaussian, samples: the same flat spectrum (the level is set below) at a sixth
  # of the cost (2 ms for 18 s, the costliest draw of a mixture).
  noise = rng.random(total, dtype=np.float32) - np.float32(0.5)
  if rng.random() < 0.5:  # brown-ish noise half of the time: a one-pole low-pass
    noise = scipy.signal.lfilter(np.float32([1.0]), np.float32([1.0, -0.98]), noise)
  active = _active(labels, total)
  p_speech = levels.speech_power(mix, active)
  p_noise = float(np.mean(noise ** 2))
  mix += noise * np.float32(np.sqrt(p_speech / p_noise / 10 ** (snr / 10)))


@dataclasses.dataclass(frozen=True)
class Quiet:
  """What the silence dials drew for one chunk (`quiet_draws`)."""
  empty: bool = False   # nobody speaks (make_empty)
  solo: bool = False    # one voice alone
  lead: float = 0.0     # share of the chunk that is silent before the first voice may start
  trail: float = 0.0    # share of the chunk that is silent after the voices stop
  far_db: float = 0.0   # the whole chunk this many dB quieter


def quiet_draws(seed, index, cfg):
  """The silence dials' draws for chunk `index`, from a stream of their own: with every dial
  at 0 a chunk is exactly what it was before the dials existed."""
  r = np.random.default_rng([int(seed), int(index), 2])
  u = r.random(5)
  lead, trail = r.uniform(0, 0.9, 2) * (u[2:4] < (cfg.lead_prob, cfg.trail_prob))
  if lead + trail > 0.9:  # leave at least a tenth of the chunk for speech
    lead, trail = 0.9 * lead / (lead + trail), 0.9 * trail / (lead + trail)
  return Quiet(empty=bool(u[0] < cfg.empty_prob), solo=bool(u[1] < cfg.solo_prob),
               lead=float(lead), trail=float(trail),
               far_db=float(r.uniform(10, 30)) if u[4] < cfg.far_prob else 0.0)


def _noise(rng, n, colour):
  """Unit-RMS white, pink (1/f power) or brown (1/f^2) noise."""
  x = rng.standard_normal(n).astype(np.float32)
  if colour != "white":
    spec = scipy.fft.rfft(x)
    f = np.maximum(np.arange(len(spec)), 1.0)
    spec /= f ** (0.5 if colour == "pink" else 1.0)
    x = scipy.fft.irfft(spec, n=n).astype(np.float32)
  return x / np.float32(max(float(np.sqrt(np.mean(x ** 2))), 1e-12))


def make_empty(seed, index, cfg):
  """A chunk in which nobody speaks: digital silence, or a white / pink / brown floor at
  -90..-45 dBFS, alone or with mains hum or clicks. No labels: it decodes to EOS at once."""
  rng = rng_for(seed, index)
  sr = cfg.sample_rate
  n = int(rng.uniform(cfg.min_secs, cfg.max_secs) * sr)
  kind = ("silence", "floor", "floor", "hum", "clicks")[int(rng.integers(5))]
  audio = np.zeros(n, np.float32)
  colour = ("white", "pink", "brown")[int(rng.integers(3))]
  if kind != "silence":
    audio += _noise(rng, n, colour) * np.float32(10 ** (rng.uniform(-90, -45) / 20))
  if kind == "hum":
    hum = channel_lib.hum(rng, n, sr)
    audio += hum * np.float32(10 ** (rng.uniform(-65, -35) / 20) /
                              max(float(np.sqrt(np.mean(hum ** 2))), 1e-12))
  elif kind == "clicks":
    audio += channel_lib.clicks(rng, n, sr, 10 ** (rng.uniform(-50, -25) / 20))
  name = "silence" if kind == "silence" else f"{colour} floor" + (
      f" + {kind}" if kind in ("hum", "clicks") else "")
  return Mixture(np.clip(audio, -0.99, 0.99), [], [], channel=(f"empty: {name}",))


def make_conversation(bank, speakers, seed, index, cfg, quiet=Quiet()):
  """Conversation `index` of the stream `seed` (see the module docstring)."""
  return _conversation(bank, speakers, rng_for(seed, index), cfg, quiet)[0]


def _conversation(bank, speakers, rng, cfg, quiet=Quiet()):
  """-> (Mixture, its _Voices). `quiet`: one voice alone, silence before or after the voices."""
  if len(speakers) < 2:
    raise ValueError(f"need at least 2 speakers to mix, the split has {len(speakers)}")
  sr = cfg.sample_rate
  chosen = _draw_voices(rng, bank, speakers, cfg, quiet.solo)
  n_spk = len(chosen)
  voices = _Voices(bank, chosen, rng, cfg)
  total = int(rng.uniform(cfg.min_secs, cfg.max_secs) * sr)
  offset = int(rng.uniform(0, cfg.crop_secs) * sr)  # the chunk is [offset, offset + total)
  length = offset + total
  # Speech lies in [first_start, stop): leading silence moves the first turn into the chunk,
  # trailing silence ends the conversation early. Without them: the whole crop, as before.
  first_start = offset + int(quiet.lead * total) if quiet.lead else 0
  stop = length - int(quiet.trail * total)
  mix = np.zeros(length, np.float32)
  labels = {k: [] for k in range(n_spk)}
  last_end = np.zeros(n_spk, np.int64)  # a speaker never overlaps themself
  n_regions = 0  # regions that reach into the chunk: the label budget

  def place(k, start, max_len):
    nonlocal n_regions
    x, regions = voices.turn(k, rng, max_len, start)
    if len(regions) == 0:
      return 0
    in_chunk = (start + regions[:, 1] > offset) & (start + regions[:, 0] < stop)
    keep = np.cumsum(in_chunk) <= cfg.max_segments - n_regions
    regions = regions[:len(keep) if keep.all() else int(np.argmin(keep))]
    if len(regions) == 0:
      return 0
    x = x[:min(regions[-1, 1], stop - start)]
    mix[start:start + len(x)] += x
    labels[k] += [[start + a, min(start + b, stop)] for a, b in regions if start + a < stop]
    n_regions += int(np.sum((start + regions[:, 1] > offset) & (start + regions[:, 0] < stop)))
    last_end[k] = start + len(x)
    return len(x)

  first = list(rng.permutation(n_spk))  # everyone speaks once, then anyone but the last voice
  prev, prev_start, prev_end = -1, first_start, first_start
  while n_regions < cfg.max_segments:
    k = _next_voice(rng, first, prev, n_spk)
    start = _turn_start(rng, cfg, prev, prev_start, prev_end, last_end[k])
    if start >= stop - int(0.2 * sr):
      break
    n = place(k, start, int(rng.uniform(cfg.min_turn_secs, cfg.max_turn_secs) * sr))
    if n == 0:
      break
    if n_spk > 1 and rng.random() < cfg.backchannel_prob:
      # A short interjection by another voice inside this turn ("mm-hm", "right").
      others = [j for j in range(n_spk) if j != k]
      j = int(others[rng.integers(len(others))])
      b_start = max(start + int(rng.uniform(0.2, 0.7) * n), int(last_end[j]))
      if b_start < start + n and n_regions < cfg.max_segments:
        place(j, b_start, int(rng.uniform(0.2, 0.6) * sr))
    prev, prev_start, prev_end = k, start, start + n

  _add_noise(mix, labels, rng, cfg)
  effects = channel_lib.apply(mix, _active(labels, length), rng, cfg.channel, bank, speakers,
                              chosen, sr)
  mix = mix[offset:]
  peak = float(np.abs(mix).max(initial=0.0))
  if peak > 0.99:
    mix *= np.float32(0.99 / peak)
  segments = []
  for k, regs in labels.items():
    for a, b in intervals.merge(regs):
      a, b = max(a - offset, 0), min(b - offset, total)
      if b > a:
        segments.append((a / sr, b / sr, chosen[k]))
  return Mixture(mix, sorted(segments), chosen, channel=voices.channel_names() + tuple(effects)), \
      voices


def make_prompted(bank, speakers, seed, index, cfg, quiet=Quiet()):
  """A chunk as `diarize` builds it after the first: prompt clips of 1..num_speakers known
  voices (most of them voices of the conversation that follows, sometimes one that stays
  silent), then a conversation. Its labels are the prompt triplets (clip start, clip end, letter
  k for prompt voice k, as diarize forces them) followed by the conversation's; voices not in
  the prompt are new letters."""
  rng = rng_for(seed, index)
  sr = cfg.sample_rate
  n_prompt = int(rng.integers(1, cfg.num_speakers + 1))
  per = prompt_lib.clip_secs(cfg.max_secs, n_prompt)
  room = cfg.max_secs - n_prompt * (per + prompt_lib.SILENCE_SECS)  # the conversation after it
  conv_cfg = dataclasses.replace(cfg, min_secs=min(cfg.min_secs, room), max_secs=room,
                                 max_segments=cfg.max_segments - n_prompt)
  conv, voices = _conversation(bank, speakers, rng, conv_cfg, quiet)
  # Known voices: a random order of the conversation's voices, and one that will stay silent
  # when more are asked for than the conversation has.
  order = [int(k) for k in rng.permutation(len(conv.speakers))][:n_prompt]
  silent = None
  if n_prompt > len(order):
    rest = [s for s in speakers if s not in conv.speakers]
    if rest:
      silent = rest[int(rng.integers(len(rest)))]
      quiet = _Voices(bank, [silent], rng, cfg)
  clips, names, pos = [], [], 0
  for k in order + ([None] if silent else []):
    v, kk, name = (voices, k, conv.speakers[k]) if k is not None else (quiet, 0, silent)
    x, regions = v.turn(kk, rng, int(per * sr), pos)
    if len(regions) == 0:
      continue
    clips.append(x[regions[0, 0]:regions[-1, 1]])  # from its first speech to its last
    names.append(name)
    # Where the next clip starts in the layout: a turn's volume sway depends on its start.
    pos += len(clips[-1]) + int(prompt_lib.SILENCE_SECS * sr)
  head, spans = prompt_lib.layout(clips, sr)
  segments = [(s, e, name) for (s, e), name in zip(spans, names)]
  audio = np.concatenate([head, conv.audio])[:tokens.num_samples(cfg.max_secs, sr)]
  p = len(head) / sr
  segments += [(s + p, min(e + p, len(audio) / sr), w) for s, e, w in conv.segments
               if s + p < len(audio) / sr]
  peak = float(np.abs(audio).max(initial=0.0))
  if peak > 0.99:
    audio *= np.float32(0.99 / peak)
  return Mixture(audio.astype(np.float32), sorted(segments),
                 conv.speakers + ([silent] if silent else []), prompt=len(clips),
                 channel=conv.channel)


def has_returning_voice(segments):
  """True if some voice speaks again after another voice took a turn (A B A), i.e. the
  chunk asks *who* is speaking, not only where the changes are."""
  turns = [w for _, _, w in sorted(segments)]
  turns = [w for i, w in enumerate(turns) if i == 0 or w != turns[i - 1]]
  return len(turns) > len(set(turns))


def make(bank, speakers, seed, index, cfg):
  """The mixture of the configured style; a prompt_prob share of conversations is prompted, and
  the silence dials (`quiet_draws`) make some chunks empty, solo, late, early-ending or far."""
  if cfg.style == "relay":
    return make_relay(bank, speakers, seed, index, cfg)
  quiet = quiet_draws(seed, index, cfg)
  if quiet.empty:
    m = make_empty(seed, index, cfg)
  elif cfg.prompt_prob > 0 and np.random.default_rng([int(seed), int(index), 1]).random() < \
      cfg.prompt_prob:
    m = make_prompted(bank, speakers, seed, index, cfg, quiet)
  else:
    m = make_conversation(bank, speakers, seed, index, cfg, quiet)
  if quiet.far_db:
    m.audio *= np.float32(10 ** (-quiet.far_db / 20))
  m.channel = m.channel + tuple(name for name, on in (
      ("solo", quiet.solo), ("lead", quiet.lead), ("trail", quiet.trail),
      (f"far -{quiet.far_db:.0f} dB", quiet.far_db)) if on and not quiet.empty)
  return m
