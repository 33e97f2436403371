"""nanodrz's model in PyTorch, at the shapes of a drzjax config: the reference bench/compare.py
times drzjax against (issue 19); tests/test_torch_reference.py holds it to drzjax's numbers.

nanodrz (github.com/mogwai/nanodrz) is a nanoGPT-style decoder over [audio; <diarize>; labels]:
Whisper's conv stem on log-mel, pre-LN blocks with a fused qkv projection, torch SDPA attention,
eager PyTorch with fused AdamW, and generation as a Python loop that encodes the audio once and
then re-runs the decoder over the whole sequence for every token. This is that design with
drzjax's details, so that both sides compute the same function (same parameters, same logits):
log-mel as drzjax/features.py, tanh-approximate GELU and LayerNorm eps 1e-6 (flax's defaults),
qkv columns ordered (head, q/k/v, dim), the audio sinusoid + type vector, learned label
positions + type vector, <diarize> at label position 0, time tokens carrying the sinusoid of the
time they name, the prefix (or causal) mask, a token head without bias and a frame head, and
drzjax's grammar mask when generating. Log-mel front end and float32 only.

  model = DiarizationTransformer(cfg)        # cfg: drzjax.model.ModelConfig
  load_flax(model, export.flatten(params))   # drzjax's parameters, by name
  logits, frames = model(wave, labels, with_frames=True)
  ids = generate(model, wave, cache=True)    # greedy with drzjax.decode's grammar mask
  step = TrainStep(model, config.train); loss = step(batch)

Imports torch, numpy, librosa and drzjax.tokens only (no jax).
"""
import math

import librosa
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from drzjax import tokens

LN_EPS = 1e-6  # flax.linen.LayerNorm's default (torch's is 1e-5)


def gelu(x):
  return F.gelu(x, approximate="tanh")  # flax.linen.gelu's default


def mel_constants(cfg):
  """(periodic Hann window (n_fft,), Slaney mel filterbank (n_fft // 2 + 1, n_mels))."""
  window = torch.tensor(np.hanning(cfg.n_fft + 1)[:-1], dtype=torch.float32)
  fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)
  return window, torch.tensor(fb.T, dtype=torch.float32)


def log_mel(wave, cfg, window, fb):
  """(B, N) -> (B, 1 + N // hop, n_mels): drzjax/features.py's Whisper-style log-mel."""
  spec = torch.stft(wave.float(), cfg.n_fft, cfg.hop, window=window, center=True,
                    pad_mode="reflect", return_complex=True)
  mel = spec.abs().square().transpose(1, 2) @ fb
  logmel = torch.log10(mel.clamp_min(1e-10))
  logmel = torch.maximum(logmel, logmel.amax(dim=(1, 2), keepdim=True) - 8.0)
  return (logmel + 4.0) / 4.0


def sinusoid(positions, d):
  """(...,) -> (..., d): drzjax.model.sinusoid."""
  half = d // 2
  freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32)
                    / max(half - 1, 1))
  ang = positions.float()[..., None] * freqs
  return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


def attention_mask(n, prefix_len, prefix):
  """(n, n) bool, True = may attend: causal, plus the whole audio prefix both ways."""
  pos = torch.arange(n)
  mask = pos[None, :] <= pos[:, None]
  if prefix:
    mask |= (pos[:, None] < prefix_len) & (pos[None, :] < prefix_len)
  return mask


class Block(nn.Module):
  """Pre-LN: x + attn(ln1(x)), then x + mlp(ln2(x))."""

  def __init__(self, cfg):
    super().__init__()
    d, bias = cfg.d_model, cfg.use_bias
    self.h, self.p = cfg.num_heads, cfg.dropout
    self.ln1 = nn.LayerNorm(d, eps=LN_EPS)
    self.qkv = nn.Linear(d, 3 * d, bias=bias)
    self.out = nn.Linear(d, d, bias=bias)
    self.ln2 = nn.LayerNorm(d, eps=LN_EPS)
    self.mlp_in = nn.Linear(d, cfg.mlp_ratio * d, bias=bias)
    self.mlp_out = nn.Linear(cfg.mlp_ratio * d, d, bias=bias)

  def forward(self, x, mask=None, is_causal=False, cache=None, index=0):
    """x (B, T, D). cache (keys, values), each (B, H, N, Dh): this call's keys and values are
    written at positions index .. index + T - 1 and the queries attend to positions
    0 .. index + T - 1 (mask None: a decode step sees everything before it)."""
    b, t, d = x.shape
    qkv = self.qkv(self.ln1(x)).view(b, t, self.h, 3, d // self.h)
    q, k, v = (qkv[:, :, :, i].transpose(1, 2) for i in range(3))  # (B, H, T, Dh)
    if cache is not None:
      cache[0][:, :, index:index + t] = k
      cache[1][:, :, index:index + t] = v
      k, v = cache[0][:, :, :index + t], cache[1][:, :, :index + t]
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    x = x + self._drop(self.out(y.transpose(1, 2).reshape(b, t, d)))
    return x + self._drop(self.mlp_out(gelu(self.mlp_in(self.ln2(x)))))

  def _drop(self, y):
    return F.dropout(y, self.p, self.training) if self.p else y


class DiarizationTransformer(nn.Module):
  """drzjax.model.DiarizationTransformer's computation; module names follow drzjax's parameter
  names."""

  def __init__(self, cfg):
    super().__init__()
    if cfg.nets:
      raise ValueError(f"model.frontend={cfg.frontend!r}: the torch reference has the log-mel "
                       "front end only ('mel')")
    if cfg.dtype != "float32":
      raise ValueError(f"model.dtype={cfg.dtype!r}: the torch reference runs float32 only")
    self.cfg = cfg
    d = cfg.d_model
    self.conv1 = nn.Conv1d(cfg.n_mels, d, 3, stride=cfg.strides[0], padding=1)
    self.conv2 = nn.Conv1d(d, d, 3, stride=cfg.strides[1], padding=1)
    self.embed = nn.Embedding(cfg.vocab_size, d)
    self.diarize = nn.Parameter(torch.randn(d))
    self.label_pos = nn.Parameter(torch.randn(cfg.max_label_len, d))
    self.audio_type = nn.Parameter(torch.randn(d))
    self.label_type = nn.Parameter(torch.randn(d))
    self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
    self.ln_f = nn.LayerNorm(d, eps=LN_EPS)
    self.head = nn.Linear(d, cfg.vocab_size, bias=False)
    self.frame_head = nn.Linear(d, cfg.speaker_slots)
    self.vocab = cfg.vocab
    # Constants, built once.
    window, fb = mel_constants(cfg)
    self.register_buffer("window", window, persistent=False)
    self.register_buffer("mel_fb", fb, persistent=False)
    self.register_buffer("audio_pos", sinusoid(torch.arange(cfg.num_audio), d), persistent=False)
    self.register_buffer("mask", attention_mask(cfg.seq_len, cfg.num_audio,
                                                cfg.attention == "prefix"), persistent=False)

  def encode_audio(self, wave):
    """(B, num_samples) -> (B, num_audio, D)."""
    # (B, n_mels, frames): Conv1d's layout.
    x = log_mel(wave, self.cfg, self.window, self.mel_fb).transpose(1, 2)
    x = gelu(self.conv2(gelu(self.conv1(x)))).transpose(1, 2)
    return x + self.audio_pos[:x.shape[1]] + self.audio_type

  def embed_labels(self, ids, label_pos):
    """(B, T) ids at label positions label_pos (T,) -> (B, T, D); position 0 is <diarize>."""
    x = self.embed(ids)
    x = torch.where((label_pos == 0)[None, :, None], self.diarize, x)
    x = x + self.label_pos[label_pos] + self.label_type
    if self.cfg.use_time_pos:
      v = self.vocab
      is_time = (ids >= 2) & (ids < v.first_speaker)
      at = (ids - 2) * (v.bin_secs / self.cfg.frame_secs)
      x = x + torch.where(is_time[..., None], sinusoid(at, self.cfg.d_model), 0.0)
    return x

  def run(self, x, cache=None, index=0, mask=True):
    """The blocks and the final LayerNorm. mask: the training/prefill mask over x's positions
    (from index 0); False: a decode step, which sees every cached position."""
    n = x.shape[1]
    causal = mask is True and self.cfg.attention == "causal"
    m = self.mask[:n, :n] if mask is True and not causal else None
    for i, block in enumerate(self.blocks):
      x = block(x, m, causal, None if cache is None else cache[i], index)
    return self.ln_f(x)

  def forward(self, wave, labels, with_frames=False):
    """Teacher forcing: (B, num_samples), (B, Lt) targets -> logits (B, Lt, V)
    [, frame logits (B, num_audio, speaker_slots)]."""
    lt = labels.shape[1]
    inputs = F.pad(labels[:, :-1], (1, 0))  # position 0 becomes <diarize>
    x = torch.cat([self.encode_audio(wave), self.embed_labels(inputs, torch.arange(lt))], 1)
    x = F.dropout(x, self.cfg.dropout, self.training) if self.cfg.dropout else x
    h = self.run(x)
    logits = self.head(h[:, -lt:])
    return (logits, self.frame_head(h[:, :self.cfg.num_audio])) if with_frames else logits

  def new_cache(self, batch, length):
    """Per layer (keys, values), each (B, H, length, Dh) zeros."""
    cfg = self.cfg
    shape = (batch, cfg.num_heads, length, cfg.d_model // cfg.num_heads)
    return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(cfg.num_layers)]

  def prefill(self, wave, cache):
    """Audio + <diarize> into the cache -> logits (B, V) for label position 0."""
    d = self.embed_labels(torch.zeros((wave.shape[0], 1), dtype=torch.long),
                          torch.zeros(1, dtype=torch.long))
    h = self.run(torch.cat([self.encode_audio(wave), d], 1), cache, 0)
    return self.head(h[:, -1])

  def step(self, ids, label_pos, cache):
    """One token per row (ids (B,)) at label position label_pos >= 1 -> logits (B, V)."""
    x = self.embed_labels(ids[:, None], torch.tensor([label_pos]))
    h = self.run(x, cache, self.cfg.num_audio + label_pos, mask=False)
    return self.head(h[:, 0])


# ---------------------------------------------------------------------------------------------
# drzjax's parameters in the torch model.

def flax_name(name):
  """torch parameter name -> drzjax's '/'-joined path ('blocks.0.qkv.weight' ->
  'block0/qkv/kernel')."""
  parts = name.split(".")
  if parts[0] == "blocks":
    parts = [f"block{parts[1]}"] + parts[2:]
  leaf = {"weight": "kernel", "bias": "bias"}.get(parts[-1], parts[-1])
  if parts[0] == "embed":
    leaf = "embedding"
  elif parts[-2:-1] and parts[-2].startswith("ln") and leaf == "kernel":
    leaf = "scale"
  return "/".join(parts[:-1] + [leaf]) if len(parts) > 1 else leaf


def to_torch_layout(name, value):
  """drzjax's array for torch parameter `name`: Dense kernels (in, out) -> (out, in), conv
  kernels (width, in, out) -> (out, in, width)."""
  value = np.asarray(value, np.float32)
  if name.endswith("weight") and value.ndim == 3:
    return value.transpose(2, 1, 0)
  if name.endswith("weight") and value.ndim == 2 and not name.startswith("embed"):
    return value.T
  return value


def load_flax(model, flat):
  """Copy drzjax's parameters (export.flatten's {path: array}) into `model`. Every torch
  parameter must be found with its shape and every drzjax parameter used: the two models then
  have the same parameter count."""
  names = dict(model.named_parameters())
  want = {flax_name(n): n for n in names}
  missing, extra = sorted(set(want) - set(flat)), sorted(set(flat) - set(want))
  if missing or extra:
    raise ValueError(f"parameter names differ: torch has {missing[:4]} that drzjax lacks, "
                     f"drzjax has {extra[:4]} that torch lacks")
  with torch.no_grad():
    for path, name in want.items():
      value = torch.tensor(to_torch_layout(name, flat[path]))
      if value.shape != names[name].shape:
        raise ValueError(f"{path}: drzjax {tuple(value.shape)}, torch {tuple(names[name].shape)}")
      names[name].copy_(value)
  return model


def count_params(model):
  return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# Generation: greedy with drzjax.decode's grammar mask, by recompute (nanodrz) or KV cache.

def allowed(vocab, pos, used, start, done, min_len, min_spk, max_spk, max_len):
  """(n, V) bool: drzjax.decode.allowed at label position pos (a Python int)."""
  v = torch.arange(vocab.size)
  is_time = (v >= 2) & (v < vocab.first_speaker)
  if pos % 3 == 0:
    must_end = pos + 3 >= max_len  # no room for a triplet and then EOS
    eos_ok = ((pos >= min_len) & (used >= min_spk)) | must_end
    ok = (is_time & (not must_end))[None] | ((v == tokens.EOS)[None] & eos_ok[:, None])
  elif pos % 3 == 1:
    ok = is_time[None] & (v[None] >= start[:, None])
  else:
    k, u = (v - vocab.first_speaker)[None], used[:, None]
    left = max((max_len - pos - 2) // 3, 0)  # whole triplets fitting after this one
    new_ok = (used < max_spk)[:, None]
    must_new = new_ok & (min_spk - u > left)
    ok = (k >= 0) & (((k < u) & ~must_new) | ((k == u) & new_ok))
  return torch.where(done[:, None], (v == tokens.PAD)[None], ok)


def advance(vocab, pos, tok, used, start, done):
  """The grammar state after tokens tok (n,) at label position pos."""
  used = torch.where(tok >= vocab.first_speaker,
                     torch.maximum(used, tok - vocab.first_speaker + 1), used)
  if pos % 3 == 0:
    start = torch.where((tok >= 2) & (tok < vocab.first_speaker), tok, start)
  return used, start, done | (tok == tokens.EOS)


@torch.inference_mode()
def generate(model, wave, cache=True, max_len=None, min_len=0, min_speakers=0, max_speakers=0):
  """Greedy label ids (B, max_len) int64, EOS-terminated, PAD after: drzjax.decode.decode's
  greedy mode (min_len=max_len decodes a fixed length). cache False: nanodrz's loop, the audio
  encoded once, then every block over [audio; <diarize>; labels so far] for every token."""
  vocab, b = model.vocab, wave.shape[0]
  max_len = max_len or model.cfg.max_label_len
  max_spk = max_speakers or vocab.speakers
  ids = torch.zeros((b, max_len), dtype=torch.long)
  used, start = torch.zeros(b, dtype=torch.long), torch.full((b,), 2, dtype=torch.long)
  done = torch.zeros(b, dtype=torch.bool)
  if cache:
    kv = model.new_cache(b, model.cfg.num_audio + max_len)
    logits = model.prefill(wave, kv)
  else:
    audio = model.encode_audio(wave)
  for pos in range(max_len):
    if pos and cache:
      logits = model.step(ids[:, pos - 1], pos, kv)
    elif not cache:
      # Inputs at label positions 0..pos: <diarize> (a placeholder id, replaced) and the tokens.
      labels = model.embed_labels(F.pad(ids[:, :pos], (1, 0)), torch.arange(pos + 1))
      logits = model.head(model.run(torch.cat([audio, labels], 1))[:, -1])
    ok = allowed(vocab, pos, used, start, done, min_len, min_speakers, max_spk, max_len)
    tok = logits.masked_fill(~ok, -math.inf).argmax(-1)
    ids[:, pos] = tok
    used, start, done = advance(vocab, pos, tok, used, start, done)
    if done.all():
      break
  return ids


# ---------------------------------------------------------------------------------------------
# Training: drzjax/train.py's objective and optimizer.

def token_targets(labels, vocab, sigma):
  """drzjax.train.token_targets: one-hot, time tokens a Gaussian of sigma bins over time bins."""
  onehot = F.one_hot(labels, vocab.size).float()
  if sigma <= 0:
    return onehot
  v = torch.arange(vocab.size)
  is_time_v = (v >= 2) & (v < vocab.first_speaker)
  d = (v[None, None] - labels[..., None]).float() / sigma
  w = torch.where(is_time_v, torch.exp(-0.5 * d * d), 0.0)
  w = w / w.sum(-1, keepdim=True).clamp_min(1e-9)
  is_time = (labels >= 2) & (labels < vocab.first_speaker)
  return torch.where(is_time[..., None], w, onehot)


def loss_fn(model, batch, tc):
  """drzjax.train's objective: mean token CE (PAD ignored) + frame_weight x mean frame BCE."""
  logits, frames = model(batch["audio"], batch["labels"], with_frames=True)
  mask = batch["labels"] != tokens.PAD
  targets = token_targets(batch["labels"], model.vocab, tc.time_sigma)
  ce = -(targets * F.log_softmax(logits, -1)).sum(-1)
  ce = (ce * mask).sum() / mask.sum().clamp_min(1)
  bce = F.binary_cross_entropy_with_logits(frames, batch["frames"], reduction="mean")
  return ce + tc.frame_weight * bce


def lr_at(tc, step):
  """optax.warmup_cosine_decay_schedule as drzjax.train.lr_schedule builds it."""
  warmup, total = max(1, tc.warmup_steps), max(tc.steps, tc.warmup_steps + 1)
  if step < warmup:
    return tc.lr * step / warmup
  frac = min(step - warmup, total - warmup) / (total - warmup)
  end = tc.lr * tc.min_lr_ratio
  return end + (tc.lr - end) * 0.5 * (1 + math.cos(math.pi * frac))


class TrainStep:
  """One update of drzjax.train.make_optimizer's recipe: clip the global grad norm, then AdamW
  (b1, b2, eps 1e-8, the warmup-cosine schedule), weight decay on matrices only."""

  def __init__(self, model, tc, fused=True):
    self.model, self.tc, self.count = model, tc, 0
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": tc.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    # fused, as nanodrz's configure_optimizers: torch's fastest AdamW (one kernel for all).
    self.opt = torch.optim.AdamW(groups, lr=0.0, betas=(tc.b1, tc.b2), eps=1e-8, fused=fused)

  def __call__(self, batch):
    """batch: torch tensors audio (B, N) float, labels (B, L) long, frames (B, A, S) float.
    -> the loss before the update (a float)."""
    for g in self.opt.param_groups:
      g["lr"] = lr_at(self.tc, self.count)
    self.model.train()
    self.opt.zero_grad(set_to_none=True)
    loss = loss_fn(self.model, batch, self.tc)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
    self.opt.step()
    self.count += 1
    return loss.item()


def torch_batch(batch):
  """bench.train_step.random_batch's numpy batch as torch tensors."""
  return {"audio": torch.as_tensor(batch["audio"]),
          "labels": torch.as_tensor(batch["labels"]).long(),
          "frames": torch.as_tensor(batch["frames"]).float()}
