"""decode.py: KV cache == full recompute, greedy/sampling/beam under the grammar masks, speaker
constraints and forced prefixes. A random-init tiny model emits garbage, which is the point: the
masks alone must make every output legal."""
import functools

import jax
import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from drzjax import decode as dec
from drzjax import tokens
from drzjax.model import DiarizationTransformer, ModelConfig

B, L = 4, 31
CFG = ModelConfig(vocab_size=64, speaker_slots=4, max_secs=4.0, max_label_len=L, d_model=32,
                  num_layers=2, num_heads=2)
VOCAB = CFG.vocab
# float32 logits of O(1): cached and full attention differ only in summation order.
LOGIT_ATOL = 1e-4


def waves(n, seed=0):
  """Distinct inputs (silence, tone, gated noise, chirp-ish) so that rows decode differently."""
  rng = np.random.default_rng(seed)
  t = np.arange(CFG.num_samples) / CFG.sample_rate
  rows = [0.0 * t, 0.5 * np.sin(2 * np.pi * 220 * t), rng.normal(0, 0.3, t.size) * (t > 2),
          0.3 * np.sign(np.sin(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 800 * t)]
  return np.stack([rows[i % 4] * (1 + i // 4) for i in range(n)]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _params():
  """Random parameters of the model's shapes (eval_shape: no init compile, which costs more
  here than the decoders' own); kernels ~ N(0, 1/fan_in), LayerNorm near identity."""
  shapes = nn.unbox(jax.eval_shape(DiarizationTransformer(CFG).init, jax.random.key(0),
                                   jnp.zeros((1, 4096)), jnp.zeros((1, 3), jnp.int32)))["params"]
  rng = np.random.default_rng(0)

  def fill(path, x):
    name = jax.tree_util.keystr(path)
    if "scale" in name:
      return 1 + 0.1 * rng.standard_normal(x.shape).astype(np.float32)
    fan_in = np.prod(x.shape[:-1]) if len(x.shape) > 1 and "embedding" not in name else 1
    return (rng.standard_normal(x.shape) / np.sqrt(fan_in)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _setup(attention):
  model = DiarizationTransformer(ModelConfig(**{**CFG.__dict__, "attention": attention}))
  return model, _params(), waves(B)


@pytest.fixture(scope="module", params=["causal", "prefix"])
def setup(request):
  return _setup(request.param)


@pytest.fixture(scope="module")
def causal():
  return _setup("causal")


@functools.partial(jax.jit, static_argnums=0)  # the model is hashable: one compile per model
def _forward(model, params, wave, ids):
  return model.apply({"params": params}, wave, ids)


def full_logits(model, params, wave, ids):
  return np.asarray(_forward(model, params, wave, jnp.asarray(ids)))


def seq_logprob(model, params, wave, ids):
  """Sum of the model's log-probs (full forward, no cache, no mask) up to and including EOS."""
  lp = jax.nn.log_softmax(full_logits(model, params, wave, ids), axis=-1)
  tok_lp = np.take_along_axis(np.asarray(lp), ids[..., None], -1)[..., 0]
  return (tok_lp * (ids != tokens.PAD)).sum(-1)


def length(ids):
  return (ids != tokens.PAD).sum(-1)


def check_well_formed(row):
  """Independent grammar check of one decoded row; returns the letters in order."""
  row = [int(t) for t in row]
  assert tokens.EOS in row, row
  e = row.index(tokens.EOS)
  assert e % 3 == 0 and tokens.PAD not in row[:e] and set(row[e + 1:]) <= {tokens.PAD}, row
  used, letters = 0, []
  for i in range(0, e, 3):
    s, t, k = row[i], row[i + 1], row[i + 2] - VOCAB.first_speaker
    assert VOCAB.is_time(s) and VOCAB.is_time(t) and t >= s, row
    assert 0 <= k <= used, row  # a used letter or the next new one
    used = max(used, k + 1)
    letters.append(k)
  segs, dropped = tokens.to_segments(row, VOCAB)
  assert dropped == 0 and len(segs) == e // 3 and all(b >= a for a, b, _ in segs), row
  return letters


@functools.partial(jax.jit, static_argnums=0)
def _kv_logits(model, params, wave, labels):
  """Prefill, then one cached step per teacher-forced label: (B, Lt, V) like the full forward."""
  v = {"params": params}
  cache = model.apply(v, wave.shape[0], method=DiarizationTransformer.init_cache)
  first, cache = model.apply(v, wave, cache, method=DiarizationTransformer.prefill)

  def step(cache, t):
    tok = jax.lax.dynamic_index_in_dim(labels, t - 1, 1, False)
    logits, cache = model.apply(v, tok, t, cache, method=DiarizationTransformer.step)
    return cache, logits

  _, rest = jax.lax.scan(step, cache, jnp.arange(1, labels.shape[1]))
  return jnp.concatenate([first[:, None], rest.transpose(1, 0, 2)], 1)


def test_kv_logits_equal_full_forward(setup):
  model, params, wave = setup
  labels = np.random.default_rng(1).integers(1, CFG.vocab_size, (B, L)).astype(np.int32)
  kv = np.asarray(_kv_logits(model, params, wave, labels))
  np.testing.assert_allclose(kv, full_logits(model, params, wave, labels), atol=LOGIT_ATOL,
                             rtol=0)


def test_greedy_equals_recompute(setup):
  model, params, wave = setup
  ids = dec.decode(params, model, wave)
  np.testing.assert_array_equal(ids, dec.recompute_decode(params, model, wave))
  assert ids.shape == (B, L) and ids.dtype == np.int32
  for row in ids:
    check_well_formed(row)
  # The masks are doing work: the unmasked argmax is illegal somewhere along the way.
  raw = full_logits(model, params, wave, ids).argmax(-1)
  assert (raw != ids).any()
  # Constraints and forcing go through the same masks in both loops.
  forced = np.array([[5, 9, VOCAB.first_speaker]] * B, np.int32)
  kw = dict(num_speakers=3, forced=forced, forced_len=np.array([0, 1, 2, 3]))
  ids = dec.decode(params, model, wave, **kw)
  np.testing.assert_array_equal(ids, dec.recompute_decode(params, model, wave, **kw))


def test_beam_width_one_is_greedy(causal):
  model, params, wave = causal
  # Second parameter set: EOS's head column a hair below the favourite start token's, so EOS is
  # often the runner-up - where a beam search that lets non-top EOS finish stops being greedy.
  greedy = dec.decode(params, model, wave)
  fav = np.bincount(greedy[:, 0]).argmax()
  kernel = np.array(params["head"]["kernel"])
  kernel[:, tokens.EOS] = kernel[:, fav] - 1e-3 * np.abs(kernel[:, fav])
  eos_close = {**params, "head": {"kernel": kernel}}
  forced = np.array([[5, 9, VOCAB.first_speaker]] * B, np.int32)
  for p in (params, eos_close):
    for kw in [dict(), dict(num_speakers=2), dict(min_speakers=3), dict(max_speakers=1),
               dict(forced=forced, forced_len=np.array([0, 1, 2, 3]))]:
      greedy = dec.decode(p, model, wave, **kw)
      beam1 = dec.decode(p, model, wave, mode="beam", beam=1, length_penalty=0.0, **kw)
      np.testing.assert_array_equal(beam1, greedy)
  greedy = dec.decode(params, model, wave)
  # With a length penalty, width 1 may keep searching past greedy's EOS, but it only ever
  # swaps greedy's sequence for one that scores better.
  a = 0.6
  beam1 = dec.decode(params, model, wave, mode="beam", beam=1, length_penalty=a)
  s_beam = seq_logprob(model, params, wave, beam1) / dec.brevity_penalty(a, length(beam1))
  s_greedy = seq_logprob(model, params, wave, greedy) / dec.brevity_penalty(a, length(greedy))
  assert (s_beam >= s_greedy - 1e-4).all()


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_scores_at_least_greedy(causal, alpha):
  model, params, wave = causal
  greedy = dec.decode(params, model, wave)
  best, nbest, scores = dec.decode(params, model, wave, mode="beam", beam=3,
                                   length_penalty=alpha, return_scores=True)
  lp_beam = seq_logprob(model, params, wave, best)
  lp_greedy = seq_logprob(model, params, wave, greedy)
  s_beam = lp_beam / dec.brevity_penalty(alpha, length(best))
  s_greedy = lp_greedy / dec.brevity_penalty(alpha, length(greedy))
  assert (s_beam >= s_greedy - 1e-4).all(), (s_beam, s_greedy)
  # The search's own scores are the model's (recomputed without the cache), best first.
  np.testing.assert_allclose(scores[:, 0], s_beam, atol=1e-3)
  assert (np.diff(scores, axis=1) <= 1e-6).all()
  for row in nbest.reshape(-1, L):
    check_well_formed(row)


def test_well_formed_under_every_mode(causal):
  model, params, wave = causal
  outs = [dec.decode(params, model, wave), dec.decode(params, model, wave, mode="beam", beam=3)]
  # EOS is one id among ~60 times: with an EOS column as loud as 28 time columns together,
  # random rows end at many lengths.
  loud = jax.tree.map(np.array, params)  # a copy
  loud["head"]["kernel"][:, tokens.EOS] = loud["head"]["kernel"][:, 2:30].sum(1)
  for i, (t, k, p) in enumerate([(0.5, 0, 1.0), (1.0, 0, 1.0), (3.0, 0, 1.0), (3.0, 5, 1.0),
                                 (3.0, 0, 0.5), (10.0, 3, 0.9)]):
    for pr in (params, loud):
      outs.append(dec.decode(pr, model, wave, mode="sample", temperature=t, top_k=k, top_p=p,
                             rng=jax.random.PRNGKey(i)))
  letters = []
  for ids in outs:
    for row in ids:
      letters.append(check_well_formed(row))
  # Hot sampling explores: new letters, several lengths (the masks meet many states).
  assert max(max(x, default=-1) for x in letters) >= 2
  assert len({len(x) for x in letters}) > 2


def test_top_k_one_is_greedy(causal):
  model, params, wave = causal
  greedy = dec.decode(params, model, wave)
  for rng in range(2):
    s = dec.decode(params, model, wave, mode="sample", temperature=5.0, top_k=1,
                   rng=jax.random.PRNGKey(rng))
    np.testing.assert_array_equal(s, greedy)
  s = dec.decode(params, model, wave, mode="sample", top_p=1e-6, rng=jax.random.PRNGKey(3))
  np.testing.assert_array_equal(s, greedy)


def test_speaker_constraints(causal):
  model, params, wave = causal
  cases = [(dict(num_speakers=n), n, n) for n in (1, 2, 3, 4)]
  cases += [(dict(min_speakers=3), 3, 4), (dict(max_speakers=1), 0, 1),
            (dict(min_speakers=2, max_speakers=3), 2, 3)]
  for kw, lo, hi in cases:
    outs = [dec.decode(params, model, wave, **kw),
            dec.decode(params, model, wave, mode="beam", beam=3, **kw)]
    outs += [dec.decode(params, model, wave, mode="sample", temperature=3.0,
                        rng=jax.random.PRNGKey(s), **kw) for s in range(2)]
    for ids in outs:
      for row in ids:
        n = len(set(check_well_formed(row)))
        assert lo <= n <= hi, (kw, row)
  # Unconstrained hot sampling does produce other counts, so the checks above can fail.
  counts = {len(set(check_well_formed(r)))
            for s in range(3)
            for r in dec.decode(params, model, wave, mode="sample", temperature=3.0,
                                rng=jax.random.PRNGKey(s))}
  assert len(counts) > 1


def test_min_speakers_forces_new_letters_when_room_is_short(causal):
  # 3 triplets + EOS fit in 10 positions: num_speakers=3 needs a new letter in every triplet.
  model, params, wave = causal
  ids = dec.decode(params, model, wave, num_speakers=3, max_len=10)
  for row in ids:
    assert check_well_formed(row) == [0, 1, 2]


def test_forced_prefix(causal):
  model, params, wave = causal
  a, b_, c = VOCAB.first_speaker + np.arange(3)
  last = VOCAB.first_speaker - 1  # the last time bin
  forced = np.array([[5, 9, a, 7, 12, b_]] * 2 + [[last, 0, 0, 0, 0, 0]] * 2, np.int32)
  forced_len = np.array([6, 3, 1, 0])
  for kw in [dict(), dict(mode="beam", beam=3),
             dict(mode="sample", temperature=3.0, rng=jax.random.PRNGKey(0))]:
    ids = dec.decode(params, model, wave, forced=forced, forced_len=forced_len,
                     max_speakers=2, **kw)
    for r in range(B):
      np.testing.assert_array_equal(ids[r, :forced_len[r]], forced[r, :forced_len[r]])
      assert set(check_well_formed(ids[r])) <= {0, 1}
    # A forced start at the last bin leaves one legal end: the same bin.
    assert ids[2, 1] == last
  # Forced letters count as used: with room for 3 triplets and num_speakers=3, the one
  # triplet after the prompt A, B must bring C (if the prompt were not counted, it would be A).
  ids = dec.decode(params, model, wave, forced=forced, forced_len=np.array([6, 3, 0, 0]),
                   num_speakers=3, max_len=10)
  assert ids[0, 8] == c and check_well_formed(ids[0]) == [0, 1, 2]
  assert [check_well_formed(r) for r in ids[1:]] == [[0, 1, 2]] * 3


def test_mask_follows_forced_state():
  """The mask functions themselves, after tokens fed through `advance`."""
  a = VOCAB.first_speaker
  knobs = {"min_spk": jnp.int32(0), "max_spk": jnp.int32(4), "min_len": jnp.int32(0)}

  advance = jax.jit(dec.advance, static_argnums=0)
  allowed = jax.jit(dec.allowed, static_argnums=(0, 4))

  def grammar(seq):
    gram = dec.grammar_init(1)
    for p, t in enumerate(seq):
      gram = advance(VOCAB, jnp.int32(p), jnp.array([t], jnp.int32), gram)
    return gram

  def legal_after(seq):
    ok = allowed(VOCAB, jnp.int32(len(seq)), grammar(seq), knobs, L)
    return set(np.flatnonzero(np.asarray(ok[0])).tolist())

  times = set(range(2, a))
  assert legal_after([]) == times | {tokens.EOS}
  assert legal_after([7]) == set(range(7, a))
  assert legal_after([5, 9]) == {a}
  assert legal_after([5, 9, a + 1]) == times | {tokens.EOS}  # EOS: no min_len/min_speakers
  assert legal_after([5, 9, a + 1, 3, 4]) == {a, a + 1, a + 2}
  assert legal_after([5, 9, a, 3, 4]) == {a, a + 1}
  assert legal_after([5, 9, a, tokens.EOS]) == {tokens.PAD}
  # Too little room left: only EOS (position 28 + 3 >= 31).
  assert legal_after([5, 9, a] * 9 + [5]) == set(range(5, a))
  assert legal_after([5, 9, a] * 10) == {tokens.EOS}
  knobs["min_spk"] = jnp.int32(2)
  assert legal_after([5, 9, a]) == times  # EOS illegal before 2 letters
  # 3 letters wanted, room for 3 triplets (max_len 10): each triplet must bring a new letter.
  knobs["min_spk"] = jnp.int32(3)
  assert allowed(VOCAB, jnp.int32(5), grammar([5, 9, a, 3, 4]), knobs, 10)[0, a:].tolist() == [
      False, True, False, False]
  knobs["max_spk"] = jnp.int32(2)
  assert legal_after([5, 9, a, 3, 4, a + 1, 6, 6]) == {a, a + 1}  # no third letter


def test_no_recompile_and_bad_input(causal):
  model, params, wave = causal
  dec.decode(params, model, wave)
  fn = dec.compiled(model, "greedy", 1, L)
  n = fn._cache_size()
  dec.decode(params, model, wave[:, :1000], num_speakers=2, forced=np.full((B, 2), 5),
             min_len=3)
  assert fn._cache_size() == n
  with pytest.raises(ValueError, match="samples"):
    dec.decode(params, model, np.zeros((1, CFG.num_samples + 1), np.float32))
  with pytest.raises(ValueError, match="mode"):
    dec.decode(params, model, wave, mode="nucleus")
  with pytest.raises(ValueError, match="speaker"):
    dec.decode(params, model, wave, num_speakers=5)
  with pytest.raises(ValueError, match="rng"):
    dec.decode(params, model, wave, mode="sample")


def test_decode_segments(causal):
  model, params, wave = causal
  out = dec.decode_segments(params, model, wave, num_speakers=2)
  assert len(out) == B
  for segs, dropped in out:
    assert dropped == 0 and {k for _, _, k in segs} == {0, 1}
    assert all(0 <= s <= e <= CFG.max_secs for s, e, _ in segs)


def _while_bodies(hlo):
  """{name: text} of the computations that are while-loop bodies in compiled HLO text."""
  comps = {}
  for block in hlo.split("\n\n"):
    head = block.lstrip().split(" ", 1)[0]
    comps[head.lstrip("%")] = block
  names = {part.split("=", 1)[1].lstrip("%") for line in hlo.splitlines()
           for part in line.split(", ") if part.startswith("body=")}
  return {n: comps[n] for n in names if n in comps}


@pytest.mark.parametrize("batch", [1, B])
def test_decode_step_updates_the_cache_in_place(causal, batch):
  """Inside the compiled decode loop no op writes a whole cache-sized array except the in-place
  dynamic-update-slice of the new key/value. Writing the cache and then reading it, or keys
  stored (positions, Dh), made XLA:CPU copy or transpose every layer's cache at every step
  (BENCHMARKS.md: decoding)."""
  if jax.default_backend() != "cpu":
    pytest.skip(f"checks XLA:CPU's compiled loop; the backend here is {jax.default_backend()}")
  model, params, _ = causal
  v = {"params": params}
  cache = model.apply(v, batch, method=DiarizationTransformer.init_cache)

  def loop(v, cache):
    def body(pos, s):
      logits, cache = model.apply(v, s[0], pos, s[1], method=DiarizationTransformer.step)
      return jnp.argmax(logits, -1).astype(jnp.int32), cache
    return jax.lax.fori_loop(1, L, body, (jnp.zeros((batch,), jnp.int32), cache))

  hlo = jax.jit(loop).lower(v, cache).compile().as_text()
  bodies = _while_bodies(hlo)
  assert bodies, "no while loop found in the compiled decoder"
  sizes = {x.size for x in jax.tree.leaves(cache)}
  free = ("get-tuple-element(", "bitcast(", "tuple(", "parameter(")
  writes = []
  for text in bodies.values():
    for line in text.splitlines()[1:]:
      parts = line.strip().removeprefix("ROOT ").split(" ")
      if len(parts) < 4 or parts[1] != "=" or not parts[2].startswith("f32["):
        continue
      dims = parts[2][4:].split("]")[0]
      size = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
      if size in sizes and not parts[3].startswith(free):
        writes.append(" ".join(parts[:4]))
  in_place = [w for w in writes if "dynamic-update-slice" in w]
  assert len(in_place) == 2 * CFG.num_layers, writes  # one key and one value write per layer
  assert writes == in_place, f"cache-sized copies or transposes in the decode loop: {writes}"


def _exhaustive_nbest(model, params, wave, alpha, n):
  """Every legal label sequence of a tiny vocabulary, scored as beam search scores them
  (log-softmax of the raw logits summed up to and including EOS, / ((5 + len) / 6) ** alpha)."""
  cfg, vocab = model.cfg, model.cfg.vocab
  knobs = {"min_spk": jnp.int32(0), "max_spk": jnp.int32(cfg.speaker_slots),
           "min_len": jnp.int32(0)}
  seqs = []

  def grow(prefix, gram):
    pos = len(prefix)
    ok = np.asarray(dec.allowed(vocab, jnp.int32(pos), gram, knobs, cfg.max_label_len))[0]
    for t in np.nonzero(ok)[0]:
      if t == tokens.EOS:
        seqs.append(prefix + [int(t)])
      elif t != tokens.PAD:
        grow(prefix + [int(t)], dec.advance(vocab, jnp.int32(pos), jnp.array([t]), gram))
  grow([], dec.grammar_init(1))
  ids = np.array([s + [0] * (cfg.max_label_len - len(s)) for s in seqs], np.int32)
  logits = _forward(model, params, np.repeat(wave, len(ids), 0), jnp.asarray(ids))
  logp = np.asarray(jax.nn.log_softmax(logits, -1))
  scores = []
  for row, s in zip(logp, seqs):
    total = sum(row[i, t] for i, t in enumerate(s))
    scores.append(total / dec.brevity_penalty(alpha, len(s)))
  order = np.argsort(scores)[::-1][:n]
  return [tuple(seqs[i]) for i in order], np.array(scores)[order], len(seqs)


@functools.lru_cache(maxsize=None)
def _small_vocab_model():
  """The model of the exhaustive-search test and its parameters, made once for both alphas."""
  cfg = ModelConfig(vocab_size=8, speaker_slots=2, max_secs=0.48, max_label_len=7, d_model=16,
                    num_layers=1, num_heads=2)
  model = DiarizationTransformer(cfg)
  # jitted: the same parameters as op by op, in half the time.
  params = nn.unbox(jax.jit(model.init)(jax.random.key(3), jnp.zeros((1, cfg.num_samples)),
                                        jnp.zeros((1, cfg.max_label_len), jnp.int32)))["params"]
  # Sharper than the init: scores spread out, so the order is decided by the model, not ties.
  return model, jax.tree.map(lambda x: 4 * x, params)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_nbest_equals_exhaustive_search(alpha):
  """A vocabulary of 4 times and 2 letters, 2 triplets at most: 211 legal sequences, no prefix
  set larger than 200, so a beam of 256 keeps them all and its n-best must be the exhaustive
  top n (with a stop on the best finished beam alone, the later entries were incomplete)."""
  model, params = _small_vocab_model()
  wave = waves(1)[:, :model.cfg.num_samples]
  width, n = 256, 64
  want, want_scores, total = _exhaustive_nbest(model, params, wave, alpha, n)
  assert n < total <= width
  _, seqs, scores = dec.decode(params, model, wave, mode="beam", beam=width,
                               length_penalty=alpha, return_scores=True)
  got = [tuple(int(t) for t in s[:list(s).index(tokens.EOS) + 1]) for s in seqs[0][:n]]
  np.testing.assert_allclose(scores[0][:n], want_scores, rtol=1e-5)  # cache vs full: float32
  assert got == want


def _beam_to_the_end(params, model, wave, width, alpha):
  """decode(mode="beam", return_scores=True)'s n-best without the early stop: every row runs
  to max_len (the same compiled search, its stop switched off)."""
  wave, knobs, forced, forced_len, max_len = dec._prepare(
      model, wave, num_speakers=0, min_speakers=0, max_speakers=0, forced=None,
      forced_len=None, max_len=None, min_len=0)
  knobs.update(temperature=jnp.float32(1.0), top_k=jnp.int32(0), top_p=jnp.float32(1.0),
               alpha=jnp.float32(alpha), early_stop=jnp.bool_(False))
  fn = dec.compiled(model, "beam", width, max_len)
  seqs, scores = fn({"params": params}, wave, jax.random.PRNGKey(0), knobs, forced, forced_len)
  return np.asarray(seqs), np.asarray(scores)


def test_beam_early_stop_keeps_the_whole_nbest(causal):
  """Stopping once the worst finished beam beats the best live bound leaves every n-best entry
  final: the same n-best as running to max_len, all EOS-terminated. (A stop on the best
  finished beam alone returns live, unfinished beams ranked among finished ones.)"""
  model, params, _ = causal
  # An EOS column as loud as 36 time columns, so that beams finish at many lengths (with the
  # stop on the best finished beam, rows at every width here then differ); one row per call,
  # since a batch stops only when its slowest row may.
  loud = jax.tree.map(np.array, params)
  loud["head"]["kernel"][:, tokens.EOS] = loud["head"]["kernel"][:, 2:38].sum(1)
  rows = waves(8)
  for width in range(2, 9):
    for alpha in (0.0, 0.6):
      for i in range(len(rows)):
        _, seqs, scores = dec.decode(loud, model, rows[i:i + 1], mode="beam", beam=width,
                                     length_penalty=alpha, return_scores=True)
        for row in seqs[0]:
          check_well_formed(row)
        want_seqs, want_scores = _beam_to_the_end(loud, model, rows[i:i + 1], width, alpha)
        where = f"width {width}, alpha {alpha}, row {i}"
        np.testing.assert_array_equal(seqs, want_seqs, err_msg=where)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5, err_msg=where)
