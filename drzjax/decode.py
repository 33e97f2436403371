"""Decoding (docs/design.md): prefill the audio once, then ONE compiled `lax.while_loop` over label
positions with the key/value cache. Greedy, sampling (temperature, top-k, top-p) and beam search
(width, length penalty), batched; the grammar and speaker-count constraints are masks.

  ids = decode.decode(params, model, wave, mode="beam", beam=4)   # (B, max_len) int32
  out = decode.decode_segments(params, model, wave)               # [(segments, dropped)] per row
  ids = decode.recompute_decode(params, model, wave)              # naive baseline (no cache)

The mask at label position p (before choosing; every mode, every row or beam):
  p % 3 == 0  a time, or EOS once p >= min_len and min_speakers letters are used; only EOS when
              a whole triplet plus its EOS no longer fits in max_len (so every row ends in EOS)
  p % 3 == 1  a time >= this triplet's start
  p % 3 == 2  a letter already used, or the next new one while fewer than max_speakers are used;
              only the new one when the triplets still fitting could not reach min_speakers
  PAD never; after EOS only PAD.
Forced prefix tokens (`forced` (B, F), `forced_len` (B,)) replace the choice at positions
< forced_len (the long-audio prompt of known speakers) and update the grammar state the same way.
A decode returns (B, max_len) ids: EOS-terminated, PAD after.

Scores (beam search): the model's log-probs (log_softmax of the raw logits) summed over the
decoded tokens including EOS, forced tokens excluded; illegal tokens are simply never expanded.
Finished beams are ranked by score / ((5 + length) / 6) ** length_penalty (flax wmt / GNMT).
"""
import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage

from drzjax import tokens

# Finite "-inf" for beam arithmetic (like flax wmt): sums of -inf would give NaN.
NEG_INF = -1.0e7
MODES = ("greedy", "sample", "beam")


# ---------------------------------------------------------------------------------------------
# Grammar: state per row (letters used, current start, done) and the mask it implies.

def grammar_init(n):
  """(used (n,), start (n,), done (n,)) before the first label token."""
  return (jnp.zeros((n,), jnp.int32), jnp.full((n,), 2, jnp.int32), jnp.zeros((n,), bool))


def allowed(vocab, pos, gram, knobs, max_len):
  """(n, V) bool: the tokens legal at label position `pos` (scalar) for each row's grammar."""
  used, start, done = (g[:, None] for g in gram)
  v = jnp.arange(vocab.size)[None, :]
  is_time = vocab.is_time(v)
  k = v - vocab.first_speaker                        # letter index (>= 0 for letters)
  must_end = pos + 3 >= max_len                      # no room for a triplet and then EOS
  eos_ok = ((pos >= knobs["min_len"]) & (used >= knobs["min_spk"])) | must_end
  at0 = (is_time & ~must_end) | ((v == tokens.EOS) & eos_ok)
  at1 = is_time & (v >= start)
  left = jnp.maximum((max_len - pos - 2) // 3, 0)   # whole triplets fitting after this one
  new_ok = used < knobs["max_spk"]
  must_new = new_ok & (knobs["min_spk"] - used > left)
  at2 = (k >= 0) & (((k < used) & ~must_new) | ((k == used) & new_ok))
  ok = jnp.where(pos % 3 == 0, at0, jnp.where(pos % 3 == 1, at1, at2))
  return jnp.where(done, v == tokens.PAD, ok)


def forcing(pos, forced, forced_len, done):
  """(is forced (n,), forced token (n,)) at label position `pos`."""
  tok = jax.lax.dynamic_index_in_dim(forced, jnp.minimum(pos, forced.shape[1] - 1), 1, False)
  return (pos < forced_len) & ~done, tok


def advance(vocab, pos, tok, gram):
  """The grammar state after token `tok` (n,) at label position `pos`."""
  used, start, done = gram
  is_letter = vocab.is_speaker(tok)
  used = jnp.where(is_letter, jnp.maximum(used, tok - vocab.first_speaker + 1), used)
  is_time = vocab.is_time(tok)
  start = jnp.where((pos % 3 == 0) & is_time, tok, start)
  return used, start, done | (tok == tokens.EOS)


def legal_logits(vocab, pos, logits, gram, knobs, forced, forced_len, max_len, fill):
  """Logits with every token the grammar (or forcing) rules out set to `fill`."""
  ok = allowed(vocab, pos, gram, knobs, max_len)
  is_forced, ftok = forcing(pos, forced, forced_len, gram[2])
  ok = jnp.where(is_forced[:, None], jnp.arange(vocab.size)[None, :] == ftok[:, None], ok)
  return jnp.where(ok, logits, fill), is_forced


# ---------------------------------------------------------------------------------------------
# Greedy and sampling.

def filter_top_k_top_p(x, top_k, top_p):
  """Logits x (n, V) with all but the top_k (0: all) and the top_p nucleus set to -inf."""
  v = x.shape[-1]
  srt = jnp.sort(x, axis=-1)[:, ::-1]               # one sort serves both filters
  k = jnp.where(top_k > 0, jnp.minimum(top_k, v), v)
  srt = jnp.where(jnp.arange(v)[None, :] < k, srt, -jnp.inf)
  p = jax.nn.softmax(srt, axis=-1)
  keep = ((jnp.cumsum(p, axis=-1) - p) < top_p) | (top_p >= 1)  # mass before < top_p
  n_keep = jnp.maximum(jnp.sum(keep & (srt > -jnp.inf), axis=-1), 1)
  thresh = jnp.take_along_axis(srt, (n_keep - 1)[:, None], axis=-1)
  return jnp.where(x >= thresh, x, -jnp.inf)


def choose(mode, logits, key, knobs):
  """Token (n,) from masked logits (illegal = -inf)."""
  if mode == "greedy":
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  x = filter_top_k_top_p(logits / knobs["temperature"], knobs["top_k"], knobs["top_p"])
  return jax.random.categorical(key, x, axis=-1).astype(jnp.int32)


def _pick(model, mode, pos, logits, gram, rng, knobs, forced, forced_len, max_len):
  vocab = model.cfg.vocab
  x, _ = legal_logits(vocab, pos, logits, gram, knobs, forced, forced_len, max_len, -jnp.inf)
  key = jax.random.fold_in(rng, pos) if mode == "sample" else None  # greedy: no PRNG code
  tok = choose(mode, x, key, knobs)
  return tok, advance(vocab, pos, tok, gram)


def _cache_len(model, max_len):
  return model.cfg.num_audio + max_len


def _prefill(model, variables, wave, max_len, speech):
  """The encoder pass -> (first logits, cache, the segmentation front end's P(speech) (B, F)
  when `speech`, else None)."""
  cls = type(model)
  cache = model.apply(variables, wave.shape[0], _cache_len(model, max_len), method=cls.init_cache)
  if not speech:
    return (*model.apply(variables, wave, cache, method=cls.prefill), None)
  (logits, cache), state = model.apply(variables, wave, cache, method=cls.prefill,
                                       mutable=["intermediates"])
  return logits, cache, state["intermediates"]["seg_speech"][0]


def sample_loop(model, variables, wave, rng, knobs, forced, forced_len, mode, max_len,
                speech=False):
  """Greedy / sampling with the KV cache -> ids (B, max_len) (and P(speech), `_prefill`)."""
  b = wave.shape[0]
  cls = type(model)
  logits, cache, prob = _prefill(model, variables, wave, max_len, speech)
  pick = functools.partial(_pick, model, mode, rng=rng, knobs=knobs, forced=forced,
                           forced_len=forced_len, max_len=max_len)
  tok, gram = pick(jnp.int32(0), logits, grammar_init(b))
  ids = jnp.zeros((b, max_len), jnp.int32).at[:, 0].set(tok)

  def cond(s):
    pos, _, _, gram, _ = s
    return (pos < max_len) & ~jnp.all(gram[2])

  def body(s):
    pos, ids, tok, gram, cache = s
    # Input at label position pos is the token chosen at pos - 1.
    logits, cache = model.apply(variables, tok, pos, cache, method=cls.step)
    tok, gram = pick(pos, logits, gram)
    return pos + 1, ids.at[:, pos].set(tok), tok, gram, cache

  ids = jax.lax.while_loop(cond, body, (jnp.int32(1), ids, tok, gram, cache))[1]
  return (ids, prob) if speech else ids


def recompute_loop(model, variables, wave, knobs, forced, forced_len, max_len):
  """Naive greedy (nanodrz-style): the full forward over audio + all labels at every step."""
  b = wave.shape[0]

  def cond(s):
    pos, _, gram = s
    return (pos < max_len) & ~jnp.all(gram[2])

  def body(s):
    pos, ids, gram = s
    # Labels after pos are PAD; the causal mask keeps them out of position pos anyway.
    logits = model.apply(variables, wave, ids)
    logits = jax.lax.dynamic_index_in_dim(logits, pos, 1, False)
    tok, gram = _pick(model, "greedy", pos, logits, gram, None, knobs, forced, forced_len,
                      max_len)
    return pos + 1, ids.at[:, pos].set(tok), gram

  init = (jnp.int32(0), jnp.zeros((b, max_len), jnp.int32), grammar_init(b))
  return jax.lax.while_loop(cond, body, init)[1]


# ---------------------------------------------------------------------------------------------
# Beam search (after flax examples/wmt/decode.py), beams folded into the batch for the model.

@flax.struct.dataclass
class BeamState:
  pos: jax.Array            # () int32: label position of the tokens last chosen
  live_logp: jax.Array      # (B, W) float32: summed log-probs of live beams (<= NEG_INF: empty)
  live_seqs: jax.Array      # (B, W, L) int32: live beams' tokens, PAD after pos
  live_used: jax.Array      # (B, W) int32: grammar state - letters used
  live_start: jax.Array     # (B, W) int32: grammar state - start id of the current triplet
  fin_scores: jax.Array     # (B, W) float32: length-penalised scores of finished beams
  fin_seqs: jax.Array       # (B, W, L) int32: finished beams, EOS-terminated
  fin_flags: jax.Array      # (B, W) bool: slot holds a finished beam
  cache: Any                # per layer (keys (B * W, H, Dh, N), values (B * W, H, N, Dh))


def brevity_penalty(alpha, length):
  return ((5.0 + length) / 6.0) ** alpha


def _gather(x, idx):
  """x (B, W, ...) -> x[b, idx[b, j]] for idx (B, J)."""
  return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def beam_select(model, st, pos, logits, knobs, forced, forced_len, max_len):
  """Expand the live beams by their legal tokens at label position pos (logits (B*W, V))."""
  vocab = model.cfg.vocab
  b, w = st.live_logp.shape
  v = logits.shape[-1]
  gram = (st.live_used.reshape(-1), st.live_start.reshape(-1), jnp.zeros((b * w,), bool))
  logp = jax.nn.log_softmax(logits, axis=-1)
  logp, is_forced = legal_logits(vocab, pos, logp, gram, knobs, jnp.repeat(forced, w, 0),
                                 jnp.repeat(forced_len, w, 0), max_len, NEG_INF)
  logp = jnp.where(is_forced[:, None] & (logp > NEG_INF), 0.0, logp)  # forced: given, not scored
  cand = (st.live_logp[..., None] + logp.reshape(b, w, v)).reshape(b, w * v)
  # 2W candidates hold at least W that are not EOS (each beam has one EOS).
  top_lp, top_i = jax.lax.top_k(cand, 2 * w)
  parent, tok = top_i // v, (top_i % v).astype(jnp.int32)
  seqs = _gather(st.live_seqs, parent).at[:, :, pos].set(tok)
  used, start, _ = advance(vocab, pos, tok.reshape(-1), (_gather(st.live_used, parent).reshape(-1),
                                                         _gather(st.live_start, parent).reshape(-1),
                                                         jnp.zeros((b * 2 * w,), bool)))
  used, start = used.reshape(b, 2 * w), start.reshape(b, 2 * w)
  is_eos = tok == tokens.EOS
  real = top_lp > NEG_INF / 2

  # Live: the best W candidates that did not end.
  live_lp, li = jax.lax.top_k(jnp.where(is_eos, 2 * NEG_INF, top_lp), w)
  # Finished: EOS candidates ranked within the top W (as HF does), so width 1 is greedy.
  new_fin = is_eos & real & (jnp.arange(2 * w) < w)
  new_scores = jnp.where(new_fin, top_lp / brevity_penalty(knobs["alpha"], pos + 1), NEG_INF)
  all_scores = jnp.concatenate([st.fin_scores, new_scores], 1)
  fin_scores, fi = jax.lax.top_k(all_scores, w)

  flat = (jnp.arange(b)[:, None] * w + _gather(parent, li)).reshape(-1)
  cache = jax.tree.map(lambda x: jnp.take(x, flat, axis=0), st.cache)
  return BeamState(
      pos=pos, live_logp=live_lp, live_seqs=_gather(seqs, li), live_used=_gather(used, li),
      live_start=_gather(start, li), fin_scores=fin_scores,
      fin_seqs=_gather(jnp.concatenate([st.fin_seqs, seqs], 1), fi),
      fin_flags=_gather(jnp.concatenate([st.fin_flags, new_fin], 1), fi), cache=cache)


def beam_search(model, variables, wave, knobs, forced, forced_len, width, max_len,
                speech=False):
  """-> (seqs (B, W, max_len), scores (B, W)), best first (and P(speech), `_prefill`).

  knobs["early_stop"] False runs every row to max_len: the reference the stop rule must match
  (traced, so that the reference reuses the compiled search).
  """
  b, w, cls = wave.shape[0], width, type(model)
  logits, cache, prob = _prefill(model, variables, wave, max_len, speech)
  rep = lambda x: jnp.repeat(x, w, axis=0)  # prefill once per row, then copy to its beams
  st = BeamState(
      pos=jnp.int32(0),
      live_logp=jnp.tile(jnp.where(jnp.arange(w) == 0, 0.0, NEG_INF), (b, 1)),  # one live beam
      live_seqs=jnp.zeros((b, w, max_len), jnp.int32),
      live_used=jnp.zeros((b, w), jnp.int32), live_start=jnp.full((b, w), 2, jnp.int32),
      fin_scores=jnp.full((b, w), NEG_INF, jnp.float32),
      fin_seqs=jnp.zeros((b, w, max_len), jnp.int32), fin_flags=jnp.zeros((b, w), bool),
      cache=jax.tree.map(rep, cache))
  select = functools.partial(beam_select, model, knobs=knobs, forced=forced,
                             forced_len=forced_len, max_len=max_len)
  st = select(st, jnp.int32(0), rep(logits))
  best_possible_bp = brevity_penalty(knobs["alpha"], max_len)

  def cond(st):
    # Log-probs only fall and the penalty only grows, so a live beam can at best reach
    # logp / bp(max_len). A row is done once it holds W finished beams and its best live beam
    # cannot beat the worst of them (flax wmt's criterion): then the whole n-best is final,
    # not only its first entry.
    bound = jnp.max(st.live_logp, axis=1) / best_possible_bp
    done = jnp.all(st.fin_flags, 1) & (jnp.min(st.fin_scores, 1) >= bound)
    return (st.pos + 1 < max_len) & ~(knobs["early_stop"] & jnp.all(done))

  def body(st):
    pos = st.pos + 1
    tok = jax.lax.dynamic_index_in_dim(st.live_seqs, st.pos, 2, False).reshape(-1)
    logits, cache = model.apply(variables, tok, pos, st.cache, method=cls.step)
    return select(st.replace(cache=cache), pos, logits)

  st = jax.lax.while_loop(cond, body, st)
  # Live beams left over (no finished beam, or cut at max_len) compete as they stand.
  live_scores = jnp.where(st.live_logp > NEG_INF / 2,
                          st.live_logp / brevity_penalty(knobs["alpha"], st.pos + 1), 2 * NEG_INF)
  scores, idx = jax.lax.top_k(jnp.concatenate([st.fin_scores, live_scores], 1), w)
  out = _gather(jnp.concatenate([st.fin_seqs, st.live_seqs], 1), idx), scores
  return (*out, prob) if speech else out


# ---------------------------------------------------------------------------------------------
# Public API: validation, padding and one compiled function per (model, mode, beam, max_len).

@functools.lru_cache(maxsize=64)
def compiled(model, mode, beam, max_len, speech=False):
  """The jitted decoder for static (model, mode, beam, max_len); knobs are traced scalars.
  speech (greedy, sample, beam): also return the segmentation front end's P(speech)."""
  if mode == "beam":
    return jax.jit(lambda v, wave, rng, knobs, f, fl: beam_search(
        model, v, wave, knobs, f, fl, beam, max_len, speech))
  if mode == "recompute":
    return jax.jit(lambda v, wave, rng, knobs, f, fl: recompute_loop(
        model, v, wave, knobs, f, fl, max_len))
  return jax.jit(lambda v, wave, rng, knobs, f, fl: sample_loop(
      model, v, wave, rng, knobs, f, fl, mode, max_len, speech))


@functools.lru_cache(maxsize=1)
def _unused_key():
  """The key greedy and beam modes take but do not read (made once: a new key is a dispatch)."""
  return jax.random.PRNGKey(0)


def _variables(params):
  return params if "params" in params else {"params": params}


def _prepare(model, wave, *, num_speakers, min_speakers, max_speakers, forced, forced_len,
             max_len, min_len):
  """Checks and pads the inputs; -> (wave, knobs-without-sampling, forced, forced_len, max_len)."""
  cfg = model.cfg
  # Host numpy until the jitted call: each jnp op here was a dispatch of its own (~1.5 ms of a
  # 26 ms chunk decode; BENCHMARKS.md).
  wave = np.asarray(wave, np.float32)
  if wave.ndim != 2:
    raise ValueError(f"wave must be (batch, samples), got shape {wave.shape}")
  if wave.shape[1] > cfg.num_samples:
    raise ValueError(f"wave has {wave.shape[1]} samples; the model reads at most "
                     f"{cfg.num_samples} ({cfg.max_secs} s) per chunk")
  # The cache positions assume a full chunk: a short one is padded with silence.
  if wave.shape[1] < cfg.num_samples:
    wave = np.pad(wave, ((0, 0), (0, cfg.num_samples - wave.shape[1])))
  b, slots = wave.shape[0], cfg.speaker_slots
  max_len = int(max_len or cfg.max_label_len)
  if max_len < 1:
    raise ValueError(f"max_len must be >= 1, got {max_len}")
  if num_speakers:
    if min_speakers or max_speakers:
      raise ValueError("give num_speakers, or min_speakers / max_speakers, not both")
    min_speakers = max_speakers = num_speakers
  max_speakers = max_speakers or slots
  if not 0 <= min_speakers <= max_speakers <= slots:
    raise ValueError(f"speaker counts must satisfy 0 <= min ({min_speakers}) <= max "
                     f"({max_speakers}) <= speaker slots ({slots})")
  if forced is None:
    forced, forced_len = np.zeros((b, 1), np.int32), np.zeros((b,), np.int32)
  forced = np.asarray(forced, np.int32)
  forced_len = (np.full((b,), forced.shape[1], np.int32) if forced_len is None
                else np.asarray(forced_len, np.int32))
  if forced.shape[0] != b or forced_len.shape != (b,):
    raise ValueError(f"forced {forced.shape} / forced_len {forced_len.shape} do not match "
                     f"batch {b}")
  if forced_len.size and (forced_len.max() > forced.shape[1] or forced_len.max() > max_len):
    raise ValueError("forced_len exceeds the forced tokens or max_len")
  # One shape (B, max_len) whatever the prompt, so a new prompt length does not recompile.
  forced = np.pad(forced[:, :max_len], ((0, 0), (0, max(0, max_len - forced.shape[1]))))
  knobs = {"min_spk": np.int32(min_speakers), "max_spk": np.int32(max_speakers),
           "min_len": np.int32(min_len)}
  return wave, knobs, forced, forced_len, max_len


def decode(params, model, wave, *, mode="greedy", beam=1, length_penalty=0.6, temperature=1.0,
           top_k=0, top_p=1.0, rng=None, num_speakers=0, min_speakers=0, max_speakers=0,
           forced=None, forced_len=None, max_len=None, min_len=0, return_scores=False,
           return_speech=False):
  """Label ids (B, max_len) int32 for waveforms (B, <= num_samples), EOS-terminated, PAD after.

  mode: "greedy", "sample" (temperature, top_k (0: off), top_p (1: off), rng) or "beam" (beam
  width, length_penalty alpha >= 0). num_speakers = exactly N letters; min/max_speakers bound
  them (0: unconstrained; never more than the speaker slots). forced (B, F) ids with forced_len
  (B,) (default F): tokens taken verbatim at label positions < forced_len. min_len: EOS is
  illegal before this label position (benchmarks use min_len=max_len to decode a fixed length).
  max_len defaults to the model's max_label_len. return_scores (beam only): also the
  (B, beam) n-best ids and their scores. return_speech: -> (that, P(speech) (B, F)) from the
  model's segmentation front end (model.frontend with +seg), frame f of the chunk padded to
  num_samples centred on sample 270 f + 495 (nets/segmentation.py); no extra network run.
  """
  if mode not in MODES:
    raise ValueError(f"mode={mode!r}: choose one of {MODES}")
  if mode == "beam" and (beam < 1 or length_penalty < 0):
    raise ValueError(f"beam search needs beam >= 1 and length_penalty >= 0, got {beam}, "
                     f"{length_penalty}")
  if mode == "sample" and not (temperature > 0 and 0 < top_p <= 1 and top_k >= 0):
    raise ValueError(f"sampling needs temperature > 0, 0 < top_p <= 1, top_k >= 0; got "
                     f"{temperature}, {top_p}, {top_k}")
  wave, knobs, forced, forced_len, max_len = _prepare(
      model, wave, num_speakers=num_speakers, min_speakers=min_speakers,
      max_speakers=max_speakers, forced=forced, forced_len=forced_len, max_len=max_len,
      min_len=min_len)
  knobs.update(temperature=np.float32(temperature), top_k=np.int32(top_k),
               top_p=np.float32(top_p), alpha=np.float32(length_penalty),
               early_stop=np.bool_(True))
  if rng is None:
    if mode == "sample":
      raise ValueError("sampling needs an rng key")
    rng = _unused_key()
  if return_speech and "seg" not in model.cfg.nets:
    raise ValueError(f"return_speech needs the segmentation front end; this model's "
                     f"frontend is {model.cfg.frontend!r}")
  fn = compiled(model, mode, beam if mode == "beam" else 1, max_len, bool(return_speech))
  out = fn(_variables(params), wave, rng, knobs, forced, forced_len)
  if return_speech:  # the loops return their usual output with P(speech) last
    out, speech = (out[:-1] if mode == "beam" else out[0]), out[-1]
  if mode == "beam":
    seqs, scores = np.asarray(out[0]), np.asarray(out[1])
    result = (seqs[:, 0], seqs, scores) if return_scores else seqs[:, 0]
  else:
    result = np.asarray(out)
  return (result, np.asarray(speech)) if return_speech else result


def recompute_decode(params, model, wave, *, num_speakers=0, min_speakers=0, max_speakers=0,
                     forced=None, forced_len=None, max_len=None, min_len=0):
  """Greedy without a cache: every step reruns the full forward (audio stem included) over
  [audio; <diarize>; labels padded to max_len], as nanodrz does. Same masks, same output as
  decode(mode="greedy"); the baseline for bench/decode.py and the equivalence tests."""
  wave, knobs, forced, forced_len, max_len = _prepare(
      model, wave, num_speakers=num_speakers, min_speakers=min_speakers,
      max_speakers=max_speakers, forced=forced, forced_len=forced_len, max_len=max_len,
      min_len=min_len)
  fn = compiled(model, "recompute", 1, max_len)
  return np.asarray(fn(_variables(params), wave, None, knobs, forced, forced_len))


def decode_segments(params, model, wave, **kwargs):
  """decode(...) then tokens.to_segments per row -> [(segments [(start_s, end_s, letter)],
  dropped)]."""
  ids = decode(params, model, wave, **kwargs)
  return [tokens.to_segments(row, model.cfg.vocab) for row in ids]


# ---------------------------------------------------------------------------------------------
# The frame decoder: the frame head's speaker-activity posteriors, thresholded and smoothed.

@functools.lru_cache(maxsize=None)
def _frame_probs_fn(model):
  return jax.jit(lambda v, wave: jax.nn.sigmoid(
      model.apply(v, wave, method=type(model).frame_logits)))


def frame_probs(params, model, wave):
  """(B, <= num_samples) waveforms -> (B, num_audio, speaker_slots) activity probabilities,
  slot k = the k-th voice to arrive (letter k)."""
  wave, *_ = _prepare(model, wave, num_speakers=0, min_speakers=0, max_speakers=0, forced=None,
                      forced_len=None, max_len=None, min_len=0)
  return np.asarray(_frame_probs_fn(model)(_variables(params), wave))


def median_filter(active, width):
  """Per-slot running median over `width` (odd) frames of a (T, S) bool array: drops blips and
  fills gaps shorter than width // 2 + 1 frames (the standard EEND post-processing)."""
  if width <= 1:
    return active
  # Zeros beyond both ends: a slot is not active before the chunk starts or after it ends.
  return scipy.ndimage.median_filter(active.astype(np.uint8), size=(width, 1), mode="constant",
                                     cval=0) > 0


def frame_segments(params, model, wave, *, threshold=0.5, median=3, max_speakers=0,
                   durations=None):
  """Frame decoder -> [(segments [(start_s, end_s, slot)], 0)] per row, like decode_segments.

  A slot is active where its probability exceeds `threshold`, after a `median`-frame median
  filter; max_speakers > 0 keeps only that many slots (the first to arrive). durations (B,)
  clips each row's segments to its real audio (the rest of the chunk is padding).
  """
  probs = frame_probs(params, model, wave)
  out = []
  for i, p in enumerate(probs):
    active = median_filter(p > threshold, median)
    if max_speakers:
      active[:, max_speakers:] = False
    d = None if durations is None else float(durations[i])
    out.append((tokens.frames_to_segments(active, model.cfg.frame_secs, d), 0))
  return out
