"""Within-speaker whitening of speaker embeddings (drzjax/whitening.py)."""
import numpy as np
import pytest

from drzjax import whitening


def _clips(rng, speakers=40, per=6, dim=16):
  """Embeddings whose voices differ in dims 0-7 and whose clips of one voice differ mostly in
  dims 8-15 (a 'channel' that says nothing about who speaks), L2-normalised."""
  means = np.zeros((speakers, dim))
  means[:, :8] = rng.normal(0, 1, (speakers, 8))
  x, who = [], []
  for s in range(speakers):
    noise = np.concatenate([rng.normal(0, 0.2, (per, 8)), rng.normal(0, 1.5, (per, 8))], 1)
    x.append(means[s] + noise)
    who += [s] * per
  x = np.concatenate(x)
  return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(who)


def test_fit_whitens_the_within_speaker_covariance():
  x, who = _clips(np.random.default_rng(0))
  w = whitening.fit(x, who, reg=1e-9)
  centred = np.concatenate([x[who == s] - x[who == s].mean(0) for s in np.unique(who)])
  within = centred.T @ centred / (len(x) - len(np.unique(who)))
  t = w["transform"].astype(np.float64)
  np.testing.assert_allclose(t @ within @ t.T, np.eye(x.shape[1]), atol=1e-4)
  np.testing.assert_allclose(w["mean"], x.mean(0), atol=1e-6)


def test_whitened_cosine_finds_the_voice_the_raw_one_misses():
  rng = np.random.default_rng(1)
  train, train_who = _clips(rng)
  test, test_who = _clips(rng)  # other voices, like validation voices
  w = whitening.fit(train, train_who)

  def nearest_centroid_accuracy(e):
    hits = 0
    for i in range(len(e)):  # leave-one-out: each clip against its voices' other clips
      keep = np.arange(len(e)) != i
      cents = {s: e[keep & (test_who == s)].mean(0) for s in np.unique(test_who)}
      sims = {s: c @ e[i] / np.linalg.norm(c) for s, c in cents.items()}
      hits += max(sims, key=sims.get) == test_who[i]
    return hits / len(e)

  raw = nearest_centroid_accuracy(test)
  white = nearest_centroid_accuracy(np.array([whitening.apply(w, e) for e in test]))
  assert white > raw + 0.2, (raw, white)
  assert np.allclose(np.linalg.norm(whitening.apply(w, test[0])), 1.0)


def test_fit_needs_a_speaker_with_two_clips():
  with pytest.raises(ValueError, match="two or more clips"):
    whitening.fit(np.eye(3), ["a", "b", "c"])


def test_load_missing_or_wrong_file_names_it_and_the_command(tmp_path):
  missing = str(tmp_path / "none.npz")
  with pytest.raises(whitening.WhiteningError, match="none.npz: missing.*python -m drzjax.whitening"):
    whitening.load(missing)
  bad = str(tmp_path / "bad.npz")
  np.savez(bad, mean=np.zeros(4), transform=np.eye(3))
  with pytest.raises(whitening.WhiteningError, match="bad.npz: mean .* do not fit"):
    whitening.load(bad)
  junk = tmp_path / "junk.npz"
  junk.write_bytes(b"not a zip")
  with pytest.raises(whitening.WhiteningError, match="junk.npz: not a whitening file"):
    whitening.load(str(junk))


def test_the_shipped_whitening_fits_campplus():
  from drzjax import linking
  w = whitening.load()
  assert w["mean"].shape == (linking.EMBED_DIM,)
  assert w["transform"].shape == (linking.EMBED_DIM, linking.EMBED_DIM)
  # a transform (S + r I)^(-1/2) is symmetric positive definite
  t = w["transform"].astype(np.float64)
  np.testing.assert_allclose(t, t.T, atol=1e-5)
  assert np.linalg.eigvalsh(t).min() > 0
