"""How distinct are a bank's voices? A timbre fingerprint per utterance and a leave-one-out
nearest-centroid speaker ID over them (bench/kokoro_voices.py, tests/test_tts.py)."""
import numpy as np


def fingerprint(x, sr=16000, n_fft=512, hop=160, bands=40):
  """Long-term average log spectrum in log-spaced bands (80 Hz - 7.6 kHz) over the frames with
  sound: a timbre fingerprint."""
  n = (len(x) - n_fft) // hop
  frames = x[np.arange(n)[:, None] * hop + np.arange(n_fft)] * np.hanning(n_fft)
  p = np.abs(np.fft.rfft(frames, axis=1)) ** 2
  e = p.sum(1)
  band = np.digitize(np.fft.rfftfreq(n_fft, 1 / sr), np.geomspace(80, 7600, bands + 1)) - 1
  onehot = (band[:, None] == np.arange(bands)[None]).astype(np.float64)
  return np.log(p[e > e.max() * 1e-3] @ onehot + 1e-8).mean(0)


def distinctness(f):
  """Fingerprints f (speakers S, utterances U, D) -> (leave-one-out nearest-centroid accuracy,
  mean distance between speakers / mean distance within one speaker)."""
  S, U = f.shape[:2]
  hits = 0
  for s in range(S):
    for u in range(U):
      cents = np.array([np.delete(f[k], u, 0).mean(0) if k == s else f[k].mean(0)
                        for k in range(S)])
      hits += np.argmin(((cents - f[s, u]) ** 2).sum(1)) == s
  within = np.mean([np.linalg.norm(f[s, i] - f[s, j]) for s in range(S)
                    for i in range(U) for j in range(i + 1, U)])
  between = np.mean([np.linalg.norm(f[s, i] - f[k, j]) for s in range(S)
                     for k in range(s + 1, S) for i in range(U) for j in range(U)])
  return hits / (S * U), between / within
