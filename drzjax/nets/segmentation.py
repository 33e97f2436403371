"""pyannote segmentation-3.0 (PyanNet) in Flax: 16 kHz waveform -> powerset speaker activity.

The pretrained network of pyannote.audio (MIT licence; Hervé Bredin, Alexis Plaquet), inference
only, float32, jit-able, batched. Architecture, as pyannote's PyanNet with the checkpoint's
hyper-parameters:

  waveform (B, N) -> InstanceNorm (affine)
  -> SincNet: 80 sinc band-pass filters (251 taps, stride 10) -> |.| -> max-pool 3 -> InstanceNorm
     -> leaky ReLU; then twice: Conv1d 5 taps (80->60, 60->60) -> max-pool 3 -> InstanceNorm
     -> leaky ReLU (all instance norms affine, eps 1e-5, statistics of the input itself)
  -> 4 bidirectional LSTM layers, 128 units per direction (PyTorch gate order i, f, g, o)
  -> 2 x (Dense 128 -> leaky ReLU)   <- `features`: these 128-d frames
  -> Dense 7 -> log-softmax           <- `apply`: powerset log-probabilities

The 7 powerset classes over 3 local speakers are {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}
(`MAPPING`); `powerset_to_multilabel` turns them into per-speaker activity. Speaker indices are
local to each chunk (permutation-invariant training on 10 s chunks): the same person may be
speaker 0 in one call and speaker 2 in the next.

SincNet: pyannote learns each filter's low and band frequencies and recomputes the sinc kernels
from them; the converter (convert_segmentation.py) computes the kernels once and stores the fixed
(251, 1, 80) conv kernel, so fine-tuning here would tune the raw kernel, not the frequencies.
The LSTM biases are stored as b_ih + b_hh (one bias per gate), as only their sum matters.

Frame geometry (pyannote's receptive field, exact, from kernels [251, 3, 5, 3, 5, 3] and strides
[10, 3, 1, 3, 1, 3] of the sinc conv / pools / convs):
  - step `FRAME_STEP` = 10 * 3 * 3 * 3 = 270 samples = 16.875 ms,
  - frame f's SincNet part sees samples [270 f, 270 f + 991): `RECEPTIVE_FIELD` = 991 samples = 61.9375 ms,
    centred on sample 270 f + 495, i.e. at 30.9375 ms + f * 16.875 ms (`frame_centers`),
  - `num_frames(N)` frames for N samples (589 for 10 s, 0 below 991 samples); the last
    N - (270 (F - 1) + 991) samples, at most 269, reach no frame.
  To place frames on another model's grid (e.g. 80 ms = 1280 samples = 4.74 frames), use the
  centres; pyannote itself describes them as SlidingWindow(start=0, duration=991/16000,
  step=270/16000).
The bidirectional LSTMs (and the instance norms, whose statistics are those of the whole input:
the level of the waveform does not matter) make every frame depend on the whole input, so outputs
near the ends of a chunk differ from those of the same audio inside a longer chunk; pyannote's
pipeline runs 10 s windows with overlap and averages. Equality with pyannote was measured on CPU
(tests/test_segmentation.py); on GPUs, JAX's default float32 matmul precision may differ.

  params = segmentation.load()
  logp = segmentation.apply(params, wave)            # (B, F, 7)
  active = segmentation.powerset_to_multilabel(logp)  # (B, F, 3) in {0, 1}
  hidden = segmentation.features(params, wave)        # (B, F, 128)
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drzjax.nets import convert

NAME = "segmentation"
SAMPLE_RATE = 16000
NUM_SPEAKERS = 3
NUM_CLASSES = 7
HIDDEN = 128          # LSTM units per direction, and the width of `features`
LSTM_LAYERS = 4
EPS = 1e-5            # torch InstanceNorm1d default
# (kernel, stride) of every layer that changes the frame rate, in order.
_LAYERS = ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3))
FRAME_STEP = 270      # samples between frames (16.875 ms)
RECEPTIVE_FIELD = 991  # samples each frame sees (61.9375 ms)

# MAPPING[k, s] = 1 when powerset class k contains local speaker s.
MAPPING = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                    [1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)


def num_frames(num_samples):
  """Output frames for `num_samples` input samples (PyTorch conv/pool length arithmetic)."""
  n = int(num_samples)
  for k, s in _LAYERS:
    n = max(0, (n - k) // s + 1)
  return n


def frame_centers(count):
  """Time in seconds of the centre of each of `count` frames' receptive fields."""
  return (np.arange(count) * FRAME_STEP + (RECEPTIVE_FIELD - 1) / 2) / SAMPLE_RATE


def _instance_norm(x, scale, bias):
  """torch InstanceNorm1d(affine=True) on (B, T, C): per example and channel, over time."""
  mean = x.mean(axis=1, keepdims=True)
  var = jnp.square(x - mean).mean(axis=1, keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + EPS) * scale + bias


class InstanceNorm(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x):
    scale = self.param("scale", nn.initializers.ones, (self.features,))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return _instance_norm(x, scale, bias)


def _pool3(x):
  return nn.max_pool(x, (3,), strides=(3,), padding="VALID")


class BiLSTM(nn.Module):
  """One bidirectional LSTM layer, both directions in a single scan.

  Parameters are stacked on a leading direction axis (0 forward, 1 backward): w_ih (2, D, 4H),
  w_hh (2, H, 4H), bias (2, 4H); gates in PyTorch order i, f, g, o. Output (B, T, 2H) is
  [forward, backward] as torch's bidirectional nn.LSTM returns it.
  """
  hidden: int = HIDDEN

  @nn.compact
  def __call__(self, x):
    h4 = 4 * self.hidden
    bound = 1.0 / np.sqrt(self.hidden)  # torch's LSTM init
    init = lambda key, shape: jax.random.uniform(key, shape, jnp.float32, -bound, bound)  # noqa: E731
    w_ih = self.param("w_ih", init, (2, x.shape[-1], h4))
    w_hh = self.param("w_hh", init, (2, self.hidden, h4))
    bias = self.param("bias", init, (2, h4))
    # Input projections for all steps at once; the backward direction runs on reversed time.
    gx = jnp.einsum("btd,kdg->kbtg", x, w_ih) + bias[:, None, None, :]
    gx = jnp.stack([gx[0], gx[1, :, ::-1]])
    gx = jnp.moveaxis(gx, 2, 0)  # (T, 2, B, 4H)

    def step(carry, g_t):
      h, c = carry
      g = g_t + jnp.einsum("kbh,khg->kbg", h, w_hh)
      i, f, u, o = jnp.split(g, 4, axis=-1)
      c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(u)
      h = jax.nn.sigmoid(o) * jnp.tanh(c)
      return (h, c), h

    zeros = jnp.zeros(gx.shape[1:3] + (self.hidden,), x.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), gx)  # (T, 2, B, H)
    fwd = jnp.moveaxis(hs[:, 0], 0, 1)
    bwd = jnp.moveaxis(hs[::-1, 1], 0, 1)
    return jnp.concatenate([fwd, bwd], axis=-1)


class PyanNet(nn.Module):
  """(B, N) 16 kHz waveforms -> (B, num_frames(N), 7) powerset log-probabilities."""

  @nn.compact
  def __call__(self, wave, hidden_only=False):
    x = InstanceNorm(1, name="wav_norm")(wave[..., None])
    x = nn.Conv(80, (251,), strides=(10,), padding="VALID", use_bias=False, name="sinc")(x)
    x = nn.leaky_relu(InstanceNorm(80, name="norm_0")(_pool3(jnp.abs(x))))
    for i in (1, 2):
      x = nn.Conv(60, (5,), padding="VALID", name=f"conv_{i}")(x)
      x = nn.leaky_relu(InstanceNorm(60, name=f"norm_{i}")(_pool3(x)))
    for i in range(LSTM_LAYERS):
      x = BiLSTM(name=f"lstm_{i}")(x)
    for i in range(2):
      x = nn.leaky_relu(nn.Dense(HIDDEN, name=f"linear_{i}")(x))
    if hidden_only:
      return x
    return jax.nn.log_softmax(nn.Dense(NUM_CLASSES, name="classifier")(x), axis=-1)


MODEL = PyanNet()


def init_params(rng=None, num_samples=16000):
  """Random parameters (for shapes and tests; the pretrained ones come from `load`)."""
  rng = jax.random.PRNGKey(0) if rng is None else rng
  return MODEL.init(rng, jnp.zeros((1, num_samples), jnp.float32))


def expected_shapes():
  """{'/'-joined parameter path: shape} of the module, without computing anything."""
  tree = jax.eval_shape(init_params)
  return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree["params"])[0]}


def load():
  """The pretrained parameters from drzjax/pretrained/segmentation/params.npz; a one-line error
  naming the file and the conversion command when it is missing, unreadable or mismatched."""
  return {"params": convert.load_tree(NAME, expected_shapes())}


@jax.jit
def apply(params, wave):
  """(B, N) float32 16 kHz waveforms -> (B, num_frames(N), 7) powerset log-probabilities."""
  return MODEL.apply(params, jnp.asarray(wave, jnp.float32))


@jax.jit
def features(params, wave):
  """(B, N) waveforms -> (B, num_frames(N), 128): the last hidden layer (after the second
  Dense + leaky ReLU, before the classifier), one vector per `FRAME_STEP` frame."""
  return MODEL.apply(params, jnp.asarray(wave, jnp.float32), hidden_only=True)


@functools.partial(jax.jit, static_argnames="soft")
def powerset_to_multilabel(logp, soft=False):
  """(..., 7) powerset log-probabilities -> (..., 3) per-speaker activity.

  Hard (default, as pyannote's Powerset.to_multilabel): 1.0 for the speakers of the most
  probable class, else 0.0. Soft: each speaker's probability of being active, i.e. the summed
  probability of the classes that contain it (two speakers can sum to more than 1).
  """
  mapping = jnp.asarray(MAPPING)
  if soft:
    return jnp.exp(logp) @ mapping
  return mapping[jnp.argmax(logp, axis=-1)]
