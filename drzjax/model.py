"""The diarization transformer (docs/design.md, "Model"): audio in, `start end speaker` tokens out.

  waveform -> log-mel -> Conv1D(stride s1)+GELU -> Conv1D(stride s2)+GELU   (Whisper's stem)
  [audio positions ; <diarize> ; label tokens] -> pre-LN decoder blocks -> linear head to V ids
                                                 \-> frame head on the audio positions

One time axis (docs/design.md, "Coordinates"): audio position i is centred at i * frame_secs,
and a time token for t seconds carries the same sinusoid as the audio position at t, so "5.0 s"
in the labels looks like the audio at 5.0 s. Label positions have their own learned embedding
(not the audio's sinusoid) and the two parts a learned type vector each. Attention is
bidirectional over the audio prefix ("prefix", a prefix-LM, the default) or causal everywhere
(nanodrz's "causal").

The frame head gives, per audio position, one sigmoid per speaker slot in arrival order (slot k
= letter k of the tokens): an auxiliary loss that makes the audio positions say who speaks when,
and a second decoder (decode.frame_segments).

The blocks take an optional key/value cache, so decoding (decode.py) is `prefill` once over the
audio and `step` per token, with the same parameters and code path as training.
"""
import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drzjax import features
from drzjax import frontends
from drzjax import tokens


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The model's hyperparameters, from the config (`from_config`); the defaults are
  configs/base.py's base variant (tests/test_config.py holds them to it)."""
  vocab_size: int = 136
  speaker_slots: int = 8
  max_secs: float = 10.0
  max_label_len: int = 91
  sample_rate: int = 16000
  n_mels: int = 80
  n_fft: int = 640
  hop: int = 320
  strides: tuple = (2, 2)  # of the two stem convolutions: 20 ms mel frames -> 80 ms positions
  d_model: int = 256
  num_layers: int = 4
  num_heads: int = 4
  mlp_ratio: int = 4
  dropout: float = 0.0
  use_bias: bool = True
  attention: str = "prefix"
  use_time_pos: bool = True
  dtype: str = "float32"
  frontend: str = "mel+seg"         # "mel", "mel+seg", "mel+campp", "mel+seg+campp" (frontends.py)
  frontend_trainable: bool = False  # fine-tune the pretrained front ends too

  @classmethod
  def from_config(cls, config):
    m, t = config.model, config.tokens
    if m.attention not in ("causal", "prefix"):
      raise ValueError(f"model.attention={m.attention!r}: choose 'causal' or 'prefix'")
    frontends.parse(m.frontend)  # one-line error for a bad spec
    if m.d_model % m.num_heads:
      raise ValueError(f"model.d_model={m.d_model} is not divisible by num_heads={m.num_heads}")
    return cls(vocab_size=t.vocab_size, speaker_slots=t.speaker_slots,
               max_secs=config.data.max_secs, max_label_len=t.max_label_len,
               sample_rate=config.data.sample_rate, n_mels=m.n_mels, n_fft=m.n_fft, hop=m.hop,
               strides=tuple(m.strides), d_model=m.d_model, num_layers=m.num_layers,
               num_heads=m.num_heads, mlp_ratio=m.mlp_ratio, dropout=m.dropout,
               use_bias=m.use_bias, attention=m.attention, use_time_pos=m.use_time_pos,
               dtype=m.dtype, frontend=m.frontend,
               frontend_trainable=bool(m.frontend_trainable))

  @property
  def num_samples(self):
    return tokens.num_samples(self.max_secs, self.sample_rate)

  @property
  def num_audio(self):
    """Audio positions after the strided stem."""
    return tokens.num_positions(self.num_samples, self.hop, self.strides)

  @property
  def frame_secs(self):
    """Seconds between audio positions; position i is centred at i * frame_secs."""
    return tokens.frame_secs(self.sample_rate, self.hop, self.strides)

  @property
  def seq_len(self):
    return self.num_audio + self.max_label_len

  @property
  def vocab(self):
    return tokens.Vocab(self.vocab_size, self.speaker_slots, self.max_secs)

  @property
  def nets(self):
    """The pretrained front-end networks this model reads (frontends.NETS)."""
    return frontends.parse(self.frontend)


def sinusoid(positions, d):
  """(...,) positions -> (..., d) float32 sin/cos embedding."""
  half = d // 2
  freqs = jnp.exp(-np.log(10000.0) * jnp.arange(half) / max(half - 1, 1))
  ang = positions.astype(jnp.float32)[..., None] * freqs
  return jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], axis=-1)


def _init(names, init=nn.initializers.lecun_normal()):
  return nn.with_logical_partitioning(init, names)


def attention_mask(q_pos, k_pos, prefix_len, bidirectional_prefix):
  """(Tq, Tk) bool: causal, plus full attention inside the audio prefix when asked."""
  mask = k_pos[None, :] <= q_pos[:, None]
  if bidirectional_prefix:
    mask |= (q_pos[:, None] < prefix_len) & (k_pos[None, :] < prefix_len)
  return mask


def attend(q, k, v, mask):
  """Softmax attention. q, k, v (B, T, H, Dh); mask (Tq, Tk) bool. Scores and softmax in float32
  whatever the compute dtype.

  Written out rather than jax.nn.dot_product_attention: on CPU it was as fast or faster (figures
  in BENCHMARKS.md). Heads are moved in front of time before the two products, and the softmax's
  normaliser divides the (T, Dh) output instead of the (T, T) probabilities: the same values,
  and the base train step ~6% faster on XLA:CPU (BENCHMARKS.md, "The train step, eighth session").
  """
  q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
  s = jnp.einsum("bhqd,bhkd->bhqk", q, k, preferred_element_type=jnp.float32)
  s = jnp.where(mask[None, None], s / np.sqrt(q.shape[-1]), jnp.finfo(jnp.float32).min)
  e = jnp.exp(s - jax.lax.stop_gradient(s.max(-1, keepdims=True)))  # the max cancels out
  y = jnp.einsum("bhqk,bhkd->bhqd", e.astype(v.dtype), v) / e.sum(-1, keepdims=True).astype(v.dtype)
  return y.transpose(0, 2, 1, 3)


def attend_cached(q, k, v, k_cache, v_cache, visible):
  """One query per row (q, k, v (B, 1, H, Dh): this token's) over the visible cache positions
  (visible (N,) bool) and itself.

  The cache holds keys transposed, (B, H, Dh, N), and values (B, H, N, Dh), so both dots are plain
  (vector x matrix) products on the stored layout (with keys (B, H, N, Dh), XLA:CPU transposed
  every layer's whole key cache at every step). The token's own key and value are used directly:
  the caller writes them to the cache after this read (see Block).
  """
  scale = 1 / np.sqrt(q.shape[-1])
  f32 = jnp.float32
  s = jnp.einsum("bqhd,bhdk->bhqk", q, k_cache.astype(q.dtype), preferred_element_type=f32)
  s = jnp.where(visible, s * scale, -jnp.inf)
  s_self = jnp.einsum("bqhd,bqhd->bhq", q, k, preferred_element_type=f32)[..., None] * scale
  m = jnp.maximum(s.max(-1, keepdims=True), s_self)  # finite: the token always sees itself
  e, e_self = jnp.exp(s - m), jnp.exp(s_self - m)
  y = (jnp.einsum("bhqk,bhkd->bhqd", e.astype(v_cache.dtype), v_cache.astype(q.dtype))
       + e_self.astype(v.dtype) * v.transpose(0, 2, 1, 3)) / (e.sum(-1, keepdims=True) + e_self)
  return y.transpose(0, 2, 1, 3).astype(q.dtype)


def write_after_read(k, v, read):
  """k, v made data-dependent on `read` (the attention output over the cache), unchanged.

  Why: XLA cannot see that the cache write must come after the cache read unless the written
  values depend on it; unordered, XLA:CPU copied every layer's whole cache at every decode step
  to keep the read safe; ordered, it writes in place (tests/test_decode.py checks the HLO).
  `0 * x` is not folded away for floats, and optimization_barrier does not survive to copy
  insertion, hence this form.
  """
  after = 0 * read[:, :, :1, :1]
  return k + after, v + after


def write_cache(cache, k, v, index):
  """Keys and values (B, T, H, Dh) into one layer's cache at positions index .. index + T - 1."""
  k_cache, v_cache = cache
  return (jax.lax.dynamic_update_slice_in_dim(
              k_cache, k.transpose(0, 2, 3, 1).astype(k_cache.dtype), index, axis=3),
          jax.lax.dynamic_update_slice_in_dim(
              v_cache, v.transpose(0, 2, 1, 3).astype(v_cache.dtype), index, axis=2))


# A LayerNorm and a Dense with hand-written backward passes. The same parameters (names, shapes,
# initialisers) and values as flax's nn.LayerNorm / nn.Dense; written out because XLA:CPU ran
# autodiff's form of their gradients slower: in the LayerNorm's, each scale was broadcast to a
# full activation in memory; the Dense's input-gradient product ran at half speed. Together
# ~8% of the base train step (BENCHMARKS.md, "The train step, eighth session").
LN_EPS = 1e-6  # nn.LayerNorm's


@jax.custom_vjp
def layer_norm(x, scale, bias):
  """(..., D) -> (..., D) normalised over D, in float32, then scale and bias."""
  return _layer_norm_fwd(x, scale, bias)[0]


def _layer_norm_fwd(x, scale, bias):
  xf = x.astype(jnp.float32)
  mean = xf.mean(-1, keepdims=True)
  var = jnp.maximum(0.0, (xf * xf).mean(-1, keepdims=True) - mean * mean)  # as flax computes it
  r = jax.lax.rsqrt(var + LN_EPS)
  n = (xf - mean) * r
  return (n * scale + bias).astype(x.dtype), (n, r, scale)


def _layer_norm_bwd(res, dy):
  n, r, scale = res
  dyf = dy.astype(jnp.float32)
  d = n.shape[-1]
  # dx = r * (g - mean(g) - n * mean(g * n)) with g = dy * scale; the two means as products with
  # scale, so no scale-sized broadcast is kept in memory.
  mean_g = jnp.einsum("...d,d->...", dyf, scale)[..., None] / d
  mean_gn = jnp.einsum("...d,d->...", dyf * n, scale)[..., None] / d
  dx = r * (dyf * scale - mean_g - n * mean_gn)
  return (dx.astype(dy.dtype), jnp.einsum("...d,...d->d", dyf, n),
          dyf.reshape(-1, d).sum(0))


layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)


@jax.custom_vjp
def dense(x, kernel):
  """x (..., I) @ kernel (I, O)."""
  return x @ kernel


def _dense_bwd(res, dy):
  x, kernel = res
  return dy @ kernel.T, jnp.einsum("...i,...o->io", x, dy)


dense.defvjp(lambda x, kernel: (x @ kernel, (x, kernel)), _dense_bwd)


_C = float(np.sqrt(2 / np.pi))  # a Python float: weakly typed, keeps bfloat16 bfloat16


@jax.custom_vjp
def gelu(x):
  """nn.gelu (tanh approximation), with a backward that keeps only x and recomputes tanh: the
  base train step ~4% faster on XLA:CPU than autodiff's form (BENCHMARKS.md)."""
  return nn.gelu(x)


def _gelu_bwd(x, dy):
  t = jnp.tanh(_C * (x + 0.044715 * x * x * x))
  return (dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _C * (1 + 3 * 0.044715 * x * x)),)


gelu.defvjp(lambda x: (nn.gelu(x), x), _gelu_bwd)


class LayerNorm(nn.Module):
  """nn.LayerNorm's parameters and output, with layer_norm's backward."""
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    d = x.shape[-1]
    scale = self.param("scale", _init(("embed",), nn.initializers.ones), (d,))
    bias = self.param("bias", _init(("embed",), nn.initializers.zeros), (d,))
    return layer_norm(x, scale, bias).astype(self.dtype)


class Dense(nn.Module):
  """nn.Dense's parameters and output (kernel (I, O), lecun-normal; bias zeros), with dense's
  backward. axes: the logical names of the kernel's two dimensions; the bias takes the second."""
  features: int
  axes: tuple
  use_bias: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", _init(self.axes), (x.shape[-1], self.features))
    y = dense(x.astype(self.dtype), kernel.astype(self.dtype))
    if self.use_bias:
      y = y + self.param("bias", _init(self.axes[1:], nn.initializers.zeros),
                         (self.features,)).astype(self.dtype)
    return y


class Block(nn.Module):
  cfg: ModelConfig

  @nn.compact
  def __call__(self, x, mask, train, cache=None, label_index=None):
    """x (B, T, D) -> (x, cache).

    Training: cache None, mask (T, T). Prefill: cache given, label_index None, x is the whole
    prefix (audio + <diarize>), mask (T, T). Decode step: x is one token, label_index its
    position in the cache, mask (N,) = which cache positions it sees.
    cache: (keys (B, H, Dh, N), values (B, H, N, Dh)).
    """
    cfg = self.cfg
    dt = jnp.dtype(cfg.dtype)
    h, dh = cfg.num_heads, cfg.d_model // cfg.num_heads
    y = LayerNorm(dt, name="ln1")(x)
    # Fused qkv with columns ordered (head, q/k/v, dim): sharding the columns over `tensor`
    # splits whole heads.
    qkv = Dense(3 * cfg.d_model, ("embed", "heads"), cfg.use_bias, dt, name="qkv")(y)
    qkv = qkv.reshape(qkv.shape[:2] + (h, 3, dh))
    q, k, v = qkv[..., 0, :], qkv[..., 1, :], qkv[..., 2, :]
    if cache is None or label_index is None:
      # Training, or the prefill: attend within x. The prefill writes its keys and values to the
      # start of the cache.
      y = attend(q, k, v, mask)
      if cache is not None:
        cache = write_cache(cache, k, v, 0)
    else:
      # One token per row, at cache position label_index; mask (N,) = the positions it sees.
      y = attend_cached(q, k, v, *cache, mask)
      cache = write_cache(cache, *write_after_read(k, v, y), label_index)
    y = nn.Dense(cfg.d_model, use_bias=cfg.use_bias, dtype=dt, name="out",
                 kernel_init=_init(("heads", "embed")),
                 bias_init=_init(("embed",), nn.initializers.zeros))(y.reshape(y.shape[:2] + (-1,)))
    x = x + nn.Dropout(cfg.dropout, deterministic=not train)(y)
    y = LayerNorm(dt, name="ln2")(x)
    y = Dense(cfg.mlp_ratio * cfg.d_model, ("embed", "mlp"), cfg.use_bias, dt, name="mlp_in")(y)
    # mlp_out and out stay nn.Dense: the written-out backward made the step slower there
    # (mlp_out, after the GELU) or changed nothing (out); BENCHMARKS.md.
    y = nn.Dense(cfg.d_model, use_bias=cfg.use_bias, dtype=dt, name="mlp_out",
                 kernel_init=_init(("mlp", "embed")),
                 bias_init=_init(("embed",), nn.initializers.zeros))(gelu(y))
    x = x + nn.Dropout(cfg.dropout, deterministic=not train)(y)
    return nn.with_logical_constraint(x, ("batch", "length", "act_embed")), cache


class DiarizationTransformer(nn.Module):
  """The network (module docstring); diarize.Diarizer is the file pipeline around it."""
  cfg: ModelConfig

  def setup(self):
    cfg = self.cfg
    dt = jnp.dtype(cfg.dtype)
    self.conv1 = nn.Conv(cfg.d_model, (3,), strides=(cfg.strides[0],), padding=1, dtype=dt,
                         kernel_init=_init((None, None, "embed")),
                         bias_init=_init(("embed",), nn.initializers.zeros))
    self.conv2 = nn.Conv(cfg.d_model, (3,), strides=(cfg.strides[1],), padding=1, dtype=dt,
                         kernel_init=_init((None, None, "embed")),
                         bias_init=_init(("embed",), nn.initializers.zeros))
    # Unit-scale embeddings: the same order as the unit-amplitude sinusoids added to them, so
    # token identity is not drowned by the position signal.
    unit = nn.initializers.normal(1.0)
    self.embed = nn.Embed(cfg.vocab_size, cfg.d_model, dtype=dt,
                          embedding_init=_init(("vocab", "embed"), unit))
    self.diarize = self.param("diarize", _init(("embed",), unit), (cfg.d_model,))
    self.label_pos = self.param("label_pos", _init((None, "embed"), unit),
                                (cfg.max_label_len, cfg.d_model))
    self.audio_type = self.param("audio_type", _init(("embed",), unit), (cfg.d_model,))
    self.label_type = self.param("label_type", _init(("embed",), unit), (cfg.d_model,))
    self.blocks = [Block(cfg, name=f"block{i}") for i in range(cfg.num_layers)]
    self.ln_f = nn.LayerNorm(dtype=dt, scale_init=_init(("embed",), nn.initializers.ones),
                             bias_init=_init(("embed",), nn.initializers.zeros))
    self.head = nn.Dense(cfg.vocab_size, use_bias=False, dtype=dt,
                         kernel_init=_init(("embed", "vocab")))
    self.frame_head = nn.Dense(cfg.speaker_slots, dtype=dt, kernel_init=_init(("embed", None)),
                               bias_init=_init((None,), nn.initializers.zeros))
    self.drop = nn.Dropout(cfg.dropout)
    # Pretrained front ends: the network's variables (zeros here; frontends.fill loads them), a
    # LayerNorm and a zero-initialised projection onto the stem's output.
    self.net_vars = {n: self.param(frontends.FROZEN[n], _zeros_like(frontends.abstract_variables(n)))
                     for n in cfg.nets}
    self.net_norm = {n: nn.LayerNorm(dtype=dt, name=f"{n}_norm") for n in cfg.nets}
    self.net_proj = {n: nn.Dense(cfg.d_model, dtype=dt, name=f"{n}_proj",
                                 kernel_init=_init((None, "embed"), nn.initializers.zeros),
                                 bias_init=_init(("embed",), nn.initializers.zeros))
                     for n in cfg.nets}

  def encode_audio(self, wave):
    """(B, num_samples) waveform -> (B, num_audio, D) audio positions incl. position embedding."""
    cfg = self.cfg
    mel = features.log_mel(wave, cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels)
    x = gelu(self.conv1(mel.astype(jnp.dtype(cfg.dtype))))
    x = gelu(self.conv2(x))
    for n in cfg.nets:
      v = self.net_vars[n]
      v = v if cfg.frontend_trainable else jax.lax.stop_gradient(v)
      f = frontends.frames(n, v, wave)
      if n == "seg" and self.is_mutable_collection("intermediates"):
        # The network's own speech probability, at no cost: diarize fills unlabelled speech
        # from it (decode.decode(..., return_speech=True)).
        self.sow("intermediates", "seg_speech", frontends.speech_probability(v, f))
      pool = frontends.pool_matrix(n, wave.shape[1], x.shape[1], cfg.frame_secs)
      f = jnp.einsum("pf,bfc->bpc", jnp.asarray(pool), f)
      x = x + self.net_proj[n](self.net_norm[n](f.astype(x.dtype)))
    # Position i (centred at i * frame_secs) carries sinusoid(i): the time axis in frame units.
    x = x + (sinusoid(jnp.arange(x.shape[1]), cfg.d_model) + self.audio_type).astype(x.dtype)
    return nn.with_logical_constraint(x, ("batch", "length", "act_embed"))

  def embed_labels(self, ids, label_pos):
    """(B, T) ids at label positions label_pos (T,) -> (B, T, D); position 0 is <diarize>."""
    cfg = self.cfg
    x = self.embed(ids)
    x = jnp.where((label_pos == 0)[None, :, None], self.diarize.astype(x.dtype), x)
    x = x + (self.label_pos[label_pos] + self.label_type).astype(x.dtype)
    if cfg.use_time_pos:
      # The time a token stands for, on the audio's axis: the sinusoid of the audio position
      # at that time.
      is_time = cfg.vocab.is_time(ids)
      at = (ids - 2) * (cfg.vocab.bin_secs / cfg.frame_secs)
      x = x + jnp.where(is_time[..., None], sinusoid(at, cfg.d_model), 0.0).astype(x.dtype)
    return x

  def _run(self, x, mask, train, cache=None, label_index=None, head_from=0):
    """Blocks, then the head on positions >= head_from only (the audio never needs logits).
    -> (logits, cache, final normalised hidden states of all positions)."""
    new_cache = []
    for i, block in enumerate(self.blocks):
      x, c = block(x, mask, train, None if cache is None else cache[i], label_index)
      new_cache.append(c)
    h = self.ln_f(x)
    return self.head(h[:, head_from:]).astype(jnp.float32), new_cache, h

  def _mask(self, n):
    pos = jnp.arange(n)
    return attention_mask(pos, pos, self.cfg.num_audio, self.cfg.attention == "prefix")

  def __call__(self, wave, labels, train=False, with_frames=False):
    """Teacher forcing. wave (B, num_samples), labels (B, Lt) targets -> logits (B, Lt, V);
    with_frames: (logits, frame logits (B, num_audio, speaker_slots))."""
    lt = labels.shape[1]
    inputs = jnp.pad(labels[:, :-1], ((0, 0), (1, 0)))  # position 0 becomes <diarize>
    x = jnp.concatenate([self.encode_audio(wave), self.embed_labels(inputs, jnp.arange(lt))], 1)
    x = self.drop(x, deterministic=not train)
    logits, _, h = self._run(x, self._mask(x.shape[1]), train, head_from=x.shape[1] - lt)
    if not (with_frames or self.is_initializing()):  # init creates every parameter
      return logits
    # Audio positions never attend to labels (either mask), so these equal frame_logits(wave).
    frames = self.frame_head(h[:, :self.cfg.num_audio]).astype(jnp.float32)
    return (logits, frames) if with_frames else logits

  def frame_logits(self, wave):
    """(B, num_samples) -> (B, num_audio, speaker_slots) speaker-activity logits, arrival order.
    Runs the blocks over the audio alone."""
    x = self.encode_audio(wave)
    _, _, h = self._run(x, self._mask(x.shape[1]), False, head_from=x.shape[1])
    return self.frame_head(h).astype(jnp.float32)

  def init_cache(self, batch, length=None):
    """Empty cache for decoding up to `length` positions in all (default seq_len): per layer
    (keys (B, H, Dh, length), values (B, H, length, Dh))."""
    cfg = self.cfg
    length = length or cfg.seq_len
    h, dh, dt = cfg.num_heads, cfg.d_model // cfg.num_heads, jnp.dtype(cfg.dtype)
    return [(jnp.zeros((batch, h, dh, length), dt), jnp.zeros((batch, h, length, dh), dt))
            for _ in range(cfg.num_layers)]

  def prefill(self, wave, cache):
    """Audio + <diarize> into the cache. -> (logits (B, V) for the first label, cache)."""
    b = wave.shape[0]
    d = self.embed_labels(jnp.zeros((b, 1), jnp.int32), jnp.zeros((1,), jnp.int32))
    x = jnp.concatenate([self.encode_audio(wave), d], axis=1)
    logits, cache, _ = self._run(x, self._mask(x.shape[1]), False, cache, None,
                                 head_from=x.shape[1] - 1)
    return logits[:, -1], cache

  def step(self, ids, label_pos, cache):
    """One label token per row at label position label_pos (scalar, >= 1).

    -> (logits (B, V), cache)."""
    x = self.embed_labels(ids[:, None], label_pos[None])
    # Label position t sits after audio + <diarize> + t - 1 earlier labels; it sees those.
    index = self.cfg.num_audio + label_pos
    visible = jnp.arange(cache[0][0].shape[3]) < index
    logits, cache, _ = self._run(x, visible, False, cache, index)
    return logits[:, 0], cache


def _zeros_like(abstract):
  """A parameter initialiser: zeros shaped like the `abstract` pytree of ShapeDtypeStructs."""
  return lambda _: jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), abstract)


def init_params(model, rng):
  """Parameters (boxed with their logical axis names) from dummy inputs of the right shapes."""
  cfg = model.cfg
  wave = jnp.zeros((1, cfg.num_samples), jnp.float32)
  labels = jnp.zeros((1, cfg.max_label_len), jnp.int32)
  return model.init(rng, wave, labels)["params"]


def count_params(params):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
