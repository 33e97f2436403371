"""Reading audio files (host side, numpy; the features are drzjax/features.py).

Everything the project reads from disk goes through these: any rate / channel count becomes
float32 mono at `sample_rate`, and failures are AudioError naming the file and the problem.
"""
import dataclasses
import os

import librosa
import numpy as np
import soundfile


class AudioError(Exception):
  """Audio that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class AudioInfo:
  path: str
  sample_rate: int      # of the file
  channels: int
  frames: int           # per channel, at the file's rate; -1 if the reader cannot tell
  target_rate: int

  @property
  def conversion(self):
    """What loading does to this file, e.g. 'resampled 44100->16000 Hz, downmixed 2->1
    channels'; '' when the file is already target-rate mono. Callers log it once."""
    parts = []
    if self.sample_rate != self.target_rate:
      parts.append(f"resampled {self.sample_rate}->{self.target_rate} Hz")
    if self.channels != 1:
      parts.append(f"downmixed {self.channels}->1 channels")
    return ", ".join(parts)

  @property
  def narrowband(self):
    """Sampled below the target rate: nothing above sample_rate / 2 (a phone call at 8 kHz)."""
    return self.sample_rate < self.target_rate

  @property
  def seconds(self):
    return self.frames / self.sample_rate if self.frames >= 0 else float("nan")


def _check_path(path):
  if not os.path.exists(path):
    raise AudioError(f"{path}: no such file")
  if os.path.isdir(path):
    raise AudioError(f"{path}: is a directory, not an audio file")
  if os.path.getsize(path) == 0:
    raise AudioError(f"{path}: empty file (0 bytes)")


def audio_info(path, sample_rate=16000):
  """AudioInfo of a file without decoding it (soundfile; librosa's audioread as a fallback)."""
  path = os.fspath(path)
  _check_path(path)
  try:
    i = soundfile.info(path)
    return AudioInfo(path, int(i.samplerate), int(i.channels), int(i.frames), sample_rate)
  except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
    sf_err = e
  import warnings
  with warnings.catch_warnings():  # audioread imports modules that Python 3.13 drops
    warnings.simplefilter("ignore", DeprecationWarning)
    try:  # formats libsndfile lacks (m4a, ...) when an audioread backend (ffmpeg) exists
      import audioread
      with audioread.audio_open(path) as f:
        frames = int(round(f.duration * f.samplerate)) if f.duration else -1
        return AudioInfo(path, int(f.samplerate), int(f.channels), frames, sample_rate)
    except Exception:  # noqa: BLE001  audioread raises many unrelated types
      pass
  raise AudioError(f"{path}: not readable audio ({_sf_reason(sf_err)})")


def _sf_reason(e):
  s = str(e).strip()
  return s.split(": ", 1)[-1] if s.startswith("Error opening") else s


def _to_mono(x):
  return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resample(x, orig, target):
  """float32 x from rate `orig` to `target` (soxr HQ): reading files, the telephone effect."""
  if orig == target:
    return x
  import soxr  # what librosa.resample's default soxr_hq calls, without librosa's import cost
  return soxr.resample(x, orig, target, quality="HQ").astype(np.float32, copy=False)


def _finite(x, path):
  if not np.all(np.isfinite(x)):
    raise AudioError(f"{path}: contains NaN or infinite samples")
  return x


def load_audio_info(path, sample_rate=16000):
  """(wave float32 mono at `sample_rate`, AudioInfo of the file). Raises AudioError."""
  info = audio_info(path, sample_rate)
  try:
    x, sr = soundfile.read(info.path, dtype="float32", always_2d=True)
  except (soundfile.LibsndfileError, RuntimeError) as e:
    try:
      x, sr = librosa.load(info.path, sr=None, mono=False)
      x = np.atleast_2d(x).T.astype(np.float32)
    except Exception:  # noqa: BLE001
      raise AudioError(f"{info.path}: not readable audio ({_sf_reason(e)})") from None
  if x.size == 0:
    raise AudioError(f"{info.path}: empty audio (0 samples)")
  x = resample(_to_mono(_finite(x, info.path)), int(sr), sample_rate)
  return np.ascontiguousarray(x, np.float32), info


def load_audio(path, sample_rate=16000):
  """float32 mono samples of `path` at `sample_rate` (resampled / downmixed as needed)."""
  return load_audio_info(path, sample_rate)[0]


def read_span(path, start, end, sample_rate=16000, file_rate=None):
  """float32 mono samples of seconds [start, end) of `path` at `sample_rate`, exactly
  round((end - start) * sample_rate) of them (zero-padded past the file's end), reading only
  those frames from disk (long recordings are never loaded whole). file_rate: the file's rate,
  when known (saves a header read). Raises AudioError."""
  n = max(0, int(round((end - start) * sample_rate)))
  rate = file_rate or audio_info(path, sample_rate).sample_rate
  try:
    x, _ = soundfile.read(path, start=int(round(start * rate)), stop=int(round(end * rate)),
                          dtype="float32", always_2d=True)
    x = resample(_to_mono(_finite(x, path)), int(rate), sample_rate)
  except (soundfile.LibsndfileError, RuntimeError):  # not seekable by libsndfile: decode whole
    a = int(round(start * sample_rate))
    x = load_audio(path, sample_rate)[a:a + n]
  out = np.zeros(n, np.float32)
  out[:min(n, len(x))] = x[:n]
  return out


def iter_audio_chunks(path, chunk_samples, sample_rate=16000, info=None):
  """Yield float32 mono blocks of `chunk_samples` samples at `sample_rate` (the last one may be
  shorter), reading the file block by block: for audio that should not be loaded whole.

  Resampling uses one streaming soxr resampler for the whole file, so block edges are seamless
  (independent per-block resampling would click at every edge). Raises AudioError, also for a
  file that decodes to 0 samples.
  """
  import soxr
  info = info or audio_info(path, sample_rate)
  if chunk_samples <= 0:
    raise ValueError(f"chunk_samples must be positive, got {chunk_samples}")
  try:
    f = soundfile.SoundFile(info.path)
  except (soundfile.LibsndfileError, RuntimeError):
    # Not streamable by libsndfile: decode whole (the fallback reader has no block API).
    x = load_audio(info.path, sample_rate)
    for i in range(0, len(x), chunk_samples):
      yield x[i:i + chunk_samples]
    return
  stream = (soxr.ResampleStream(info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
            if info.sample_rate != sample_rate else None)
  pending, n_pending, total = [], 0, 0
  # Read enough source frames per block to make about one output chunk.
  block = max(1024, int(chunk_samples * info.sample_rate / sample_rate))
  with f:
    blocks = f.blocks(block, dtype="float32", always_2d=True)
    while True:
      try:
        x = next(blocks, None)
      except (soundfile.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{info.path}: unreadable after {total} samples ({e})") from None
      last = x is None  # the resampler is flushed with an empty last block
      y = np.zeros(0, np.float32) if last else _to_mono(_finite(x, info.path))
      if stream is not None:
        y = stream.resample_chunk(y, last=last)
      if len(y):
        pending.append(y)
        n_pending += len(y)
      while n_pending >= chunk_samples or (last and n_pending):
        buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
        out, rest = buf[:chunk_samples], buf[chunk_samples:]
        pending, n_pending = ([rest], len(rest)) if len(rest) else ([], 0)
        total += len(out)
        yield np.ascontiguousarray(out, np.float32)
      if last:
        break
  if total == 0:
    raise AudioError(f"{info.path}: empty audio (0 samples)")
