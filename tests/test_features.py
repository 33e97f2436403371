"""The model's input features against a reference implementation, and reduced-precision compute."""
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from configs.base import get_config
from drzjax import features
from drzjax import model as model_lib


@pytest.mark.parametrize("n_fft,hop", [(640, 320), (1024, 256), (400, 160)])
def test_log_mel_matches_librosa(n_fft, hop):
  """features.log_mel == librosa's centred power mel spectrogram (Slaney filters, periodic Hann,
  reflect padding), then log10, an 8-decade floor under the peak and (x + 4) / 4."""
  rng = np.random.default_rng(0)
  t = np.arange(16000 * 2) / 16000
  wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5) + 0.01 * rng.standard_normal(t.size))
  wave = wave.astype(np.float32)
  # jitted, as in the model (op by op, the first call took ~5 s of small compiles).
  log_mel = jax.jit(features.log_mel, static_argnums=(1, 2, 3, 4))
  got = np.asarray(log_mel(jnp.asarray(wave[None]), 16000, n_fft, hop, 80))[0]
  mel = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=n_fft, hop_length=hop,
                                       n_mels=80, power=2.0, center=True, pad_mode="reflect",
                                       window="hann").T
  ref = np.log10(np.maximum(mel, 1e-10))
  ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
  assert got.shape == ref.shape
  np.testing.assert_allclose(got, ref, atol=2e-3)


def test_bfloat16_compute_tracks_float32():
  """model.dtype=bfloat16 (GPU/TPU): parameters stay float32, activations bfloat16, and the
  logits follow the float32 ones."""
  c = get_config("tiny")
  cfg32 = model_lib.ModelConfig.from_config(c)
  c.model.dtype = "bfloat16"
  cfg16 = model_lib.ModelConfig.from_config(c)
  m32, m16 = model_lib.DiarizationTransformer(cfg32), model_lib.DiarizationTransformer(cfg16)
  # jitted: op by op, the init and the two forwards took ~30 s on 2 CPU cores.
  params = jax.jit(model_lib.init_params, static_argnums=0)(m32, jax.random.key(0))
  params = jax.tree.map(lambda x: getattr(x, "value", x), params,
                        is_leaf=lambda x: hasattr(x, "value"))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  rng = np.random.default_rng(1)
  wave = 0.1 * rng.standard_normal((2, cfg32.num_samples)).astype(np.float32)
  labels = rng.integers(2, cfg32.vocab_size, (2, cfg32.max_label_len)).astype(np.int32)
  forward = jax.jit(lambda m, p, w, l: m.apply({"params": p}, w, l, with_frames=True),
                    static_argnums=0)
  l32, f32 = forward(m32, params, wave, labels)
  l16, f16 = forward(m16, params, wave, labels)
  assert l16.dtype == jnp.float32  # logits are returned in float32 whatever the compute dtype
  p32, p16 = jax.nn.softmax(l32), jax.nn.softmax(l16)
  assert float(jnp.abs(p32 - p16).max()) < 0.05
  assert float(jnp.abs(jax.nn.sigmoid(f32) - jax.nn.sigmoid(f16)).max()) < 0.05
  assert float(jnp.abs(l32 - l16).mean()) > 0  # bfloat16 really ran


@pytest.mark.parametrize("sr,n_fft,n_mels", [(16000, 640, 80), (16000, 400, 80),
                                            (8000, 256, 40), (22050, 2048, 128)])
def test_mel_filterbank_is_librosas(sr, n_fft, n_mels):
  """The filterbank written out in numpy (librosa.filters is kept off diarize's start-up) is
  librosa's Slaney filterbank."""
  ours = features.mel_filterbank(sr, n_fft, n_mels)
  theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).T
  assert ours.shape == theirs.shape and ours.dtype == np.float32
  np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)
