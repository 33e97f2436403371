"""Log-mel features in jnp, so they run on the accelerator next to the model, inside the step.

Whisper's recipe: centred STFT with a periodic Hann window, power spectrum, librosa's Slaney mel
filterbank (computed once on the host as a constant, `mel_filterbank`), log10, clamp to 8 decades below the
per-example peak, then (x + 4) / 4 so values sit roughly in [-1, 1].
"""
import functools

import jax.numpy as jnp
import numpy as np

from drzjax import tokens


def _hz_to_mel(f):
  """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
  f = np.asarray(f, np.float64)
  lin = f / (200.0 / 3)
  return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27),
                  lin)


def _mel_to_hz(m):
  m = np.asarray(m, np.float64)
  return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27 * (m - 15.0)), m * 200.0 / 3)


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate, n_fft, n_mels):
  """(n_fft // 2 + 1, n_mels) float32: librosa.filters.mel(sr, n_fft, n_mels).T (Slaney scale
  and area norm, 0 Hz to Nyquist), written out here because importing librosa.filters pulls in
  scipy.signal and numba, half a second of every `diarize` start (tests/test_features.py checks
  it equals librosa's)."""
  fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
  mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2))
  ramps = mel_hz[:, None] - fft_hz[None, :]
  lower = -ramps[:-2] / np.diff(mel_hz)[:-1, None]
  upper = ramps[2:] / np.diff(mel_hz)[1:, None]
  weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
  weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None].astype(np.float32)
  return weights.T.astype(np.float32)


def log_mel(wave, sample_rate=16000, n_fft=1024, hop=256, n_mels=80):
  """wave (B, N) float -> (B, 1 + N // hop, n_mels) float32 log-mel, Whisper-normalised."""
  wave = wave.astype(jnp.float32)
  b, n = wave.shape
  f = tokens.num_mel_frames(n, hop)
  x = jnp.pad(wave, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
  if n_fft % hop == 0:
    # Frames from hop-sized blocks: no gather, just n_fft/hop shifted views.
    k = n_fft // hop
    need = (f + k - 1) * hop
    x = jnp.pad(x, ((0, 0), (0, max(0, need - x.shape[1]))))[:, :need]
    blocks = x.reshape(b, f + k - 1, hop)
    frames = jnp.concatenate([blocks[:, i:i + f] for i in range(k)], axis=-1)
  else:
    idx = np.arange(f)[:, None] * hop + np.arange(n_fft)[None, :]
    frames = x[:, idx]
  window = jnp.asarray(np.hanning(n_fft + 1)[:-1], jnp.float32)  # periodic Hann
  power = jnp.abs(jnp.fft.rfft(frames * window, axis=-1)) ** 2
  mel = power @ jnp.asarray(mel_filterbank(sample_rate, n_fft, n_mels))
  logmel = jnp.log10(jnp.maximum(mel, 1e-10))
  logmel = jnp.maximum(logmel, logmel.max(axis=(1, 2), keepdims=True) - 8.0)
  return (logmel + 4.0) / 4.0
