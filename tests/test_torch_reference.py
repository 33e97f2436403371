"""bench/torch_reference.py computes what drzjax computes: with drzjax's parameters copied in
(the shipped model, and a tiny random init) the token and frame logits agree, the KV-cache and
recompute generations give the same ids as drzjax's greedy decode, and a few train steps give the
same losses. So bench/compare.py times the same computation on both sides."""
import functools
import os

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed; the PyTorch reference is a benchmark-only "
                    "dependency: pip install -r bench/requirements.txt")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import soundfile as sf  # noqa: E402

from bench import torch_reference as tr  # noqa: E402
from bench.train_step import random_batch  # noqa: E402
from configs.base import get_config  # noqa: E402
from drzjax import decode  # noqa: E402
from drzjax import export  # noqa: E402
from drzjax import frontends  # noqa: E402
from drzjax import model as model_lib  # noqa: E402
from drzjax import tokens  # noqa: E402
from drzjax import train  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# Max |difference| measured (float32, 1 torch thread; 10x margin): tiny random inits <= 1.9e-6
# (token and frame logits up to ~4); the shipped model <= 2.2e-5 on these chunks, 3.1e-5 on
# noise (token logits up to ~27, frame logits up to ~45). Train losses: <= 4e-7 relative.
TOL_TINY, TOL_SHIPPED = 2e-5, 2e-4


@pytest.fixture(scope="module", autouse=True)
def one_thread():
  # Results do not depend on it; speed does: several OpenMP threads on a busy machine spin.
  n = torch.get_num_threads()
  torch.set_num_threads(1)
  yield
  torch.set_num_threads(n)


def _pair(cfg, params):
  """(drzjax model, torch model with the same parameters)."""
  return model_lib.DiarizationTransformer(cfg), tr.load_flax(tr.DiarizationTransformer(cfg).eval(),
                                                            export.flatten(params))


def _logits(model, tmodel, params, batch):
  jl, jf = jax.jit(functools.partial(model.apply, with_frames=True))(
      {"params": params}, batch["audio"], batch["labels"])
  with torch.no_grad():
    tl, tf = tmodel(torch.as_tensor(batch["audio"]), torch.as_tensor(batch["labels"]).long(),
                    with_frames=True)
  return np.asarray(jl), np.asarray(jf), tl.numpy(), tf.numpy()


@pytest.fixture(scope="module")
def tiny():
  cfg = model_lib.ModelConfig.from_config(get_config("tiny"))
  model = model_lib.DiarizationTransformer(cfg)
  params = nn.meta.unbox(jax.jit(model_lib.init_params, static_argnums=0)(
      model, jax.random.key(1)))
  return cfg, jax.tree.map(np.asarray, params)


@pytest.fixture(scope="module")
def shipped():
  config, params, _ = export.load()
  cfg = model_lib.ModelConfig.from_config(config)
  if cfg.frontend != "mel":
    # The torch reference has the log-mel stem only: compare the shipped model's trained
    # weights without its pretrained front ends (the same model minus their added frames).
    import dataclasses  # noqa: PLC0415
    cfg = dataclasses.replace(cfg, frontend="mel")
    extra = [f"{n}_norm" for n in frontends.NETS] + [f"{n}_proj" for n in frontends.NETS]
    params = {k: v for k, v in params.items()
              if k not in extra and k not in frontends.FROZEN.values()}
  return cfg, params


@pytest.fixture(scope="module")
def chunks(shipped):
  """Three 10 s inputs: an AMI meeting excerpt, two LibriSpeech voices one after the other,
  and the meeting with a third voice over it."""
  n = shipped[0].num_samples
  read = lambda *p: sf.read(os.path.join(DATA, *p), dtype="float32")[0]  # noqa: E731
  ami = read("ami", "trn00_5-15s.flac")[:n]
  a = read("librispeech", "1688", "142285", "1688-142285-0005.flac")
  b = read("librispeech", "2033", "164914", "2033-164914-0007.flac")
  c = read("librispeech", "367", "130732", "367-130732-0008.flac")
  pair = np.concatenate([a[:n // 2], np.zeros(4000, np.float32), b])[:n]
  over = ami.copy()
  over[n // 3:n // 3 + len(c[:n // 2])] += 0.7 * c[:n // 2]
  return np.stack([np.pad(x, (0, n - len(x))) for x in (ami, pair, over)])


def test_parameters_and_logits_tiny(tiny):
  cfg, params = tiny
  model, tmodel = _pair(cfg, params)
  assert tr.count_params(tmodel) == model_lib.count_params(params)
  batch = random_batch(cfg, 4, np.random.default_rng(0))
  jl, jf, tl, tf = _logits(model, tmodel, params, batch)
  assert np.abs(jl - tl).max() < TOL_TINY, np.abs(jl - tl).max()
  assert np.abs(jf - tf).max() < TOL_TINY, np.abs(jf - tf).max()


def test_logits_shipped(shipped, chunks):
  cfg, params = shipped
  model, tmodel = _pair(cfg, params)
  assert tr.count_params(tmodel) == model_lib.count_params(params)
  batch = dict(random_batch(cfg, len(chunks), np.random.default_rng(0)), audio=chunks)
  jl, jf, tl, tf = _logits(model, tmodel, params, batch)
  assert np.abs(jl).max() > 5 and np.abs(jf).max() > 5  # a trained model: no tiny values
  assert np.abs(jl - tl).max() < TOL_SHIPPED, np.abs(jl - tl).max()
  assert np.abs(jf - tf).max() < TOL_SHIPPED, np.abs(jf - tf).max()


def test_generation_shipped(shipped, chunks):
  """nanodrz's recompute loop, the KV-cache loop and drzjax's greedy decode: the same ids."""
  cfg, params = shipped
  model, tmodel = _pair(cfg, params)
  want = decode.decode(params, model, chunks)
  wave = torch.as_tensor(chunks)
  kv, rec = tr.generate(tmodel, wave).numpy(), tr.generate(tmodel, wave, cache=False).numpy()
  assert (want != tokens.PAD).sum(1).min() >= 7  # at least two segments each, then EOS
  np.testing.assert_array_equal(kv, want)
  np.testing.assert_array_equal(rec, want)


def test_fixed_length_generation_other_settings():
  """nanodrz's causal attention, no biases, no time sinusoid; min_len = max_len (compare.py's
  setting): equal logits, and every row decodes max_len tokens, the same ones."""
  config = get_config("tiny")
  config.model.attention, config.model.use_bias, config.model.use_time_pos = "causal", False, False
  cfg = model_lib.ModelConfig.from_config(config)
  params = jax.tree.map(np.asarray, nn.meta.unbox(jax.jit(
      model_lib.init_params, static_argnums=0)(model_lib.DiarizationTransformer(cfg),
                                                jax.random.key(2))))
  model, tmodel = _pair(cfg, params)
  batch = random_batch(cfg, 2, np.random.default_rng(3))
  jl, jf, tl, tf = _logits(model, tmodel, params, batch)
  assert max(np.abs(jl - tl).max(), np.abs(jf - tf).max()) < TOL_TINY
  want = decode.decode(params, model, batch["audio"], min_len=cfg.max_label_len)
  wave = torch.as_tensor(batch["audio"])
  kv = tr.generate(tmodel, wave, min_len=cfg.max_label_len).numpy()
  rec = tr.generate(tmodel, wave, cache=False, min_len=cfg.max_label_len).numpy()
  assert (kv != tokens.PAD).sum(1).tolist() == [cfg.max_label_len] * 2
  np.testing.assert_array_equal(kv, want)
  np.testing.assert_array_equal(rec, want)


def test_train_steps_tiny(tiny):
  """The same objective and optimizer: from the same parameters on the same batch, the losses of
  four steps (warm-up included) agree."""
  cfg, params = tiny
  config = get_config("tiny")
  model, tmodel = _pair(cfg, params)
  tx = train.make_optimizer(config.train)
  step = jax.jit(functools.partial(train.train_step, model=model, tx=tx, tc=config.train,
                                   seed=0))
  state = train.TrainState(jax.numpy.zeros((), jax.numpy.int32), params, tx.init(params))
  batch = random_batch(cfg, config.train.batch_size, np.random.default_rng(0))
  tstep, tbatch = tr.TrainStep(tmodel, config.train), tr.torch_batch(batch)
  jax_losses, torch_losses = [], []
  for _ in range(4):
    state, metrics = step(state, batch)
    jax_losses.append(float(metrics["loss"]))
    torch_losses.append(tstep(tbatch))
  np.testing.assert_allclose(torch_losses, jax_losses, rtol=1e-5)
  assert jax_losses[-1] < jax_losses[0]  # it trained


def test_other_front_ends_are_refused():
  config = get_config("tiny")
  config.model.frontend = "mel+seg"
  with pytest.raises(ValueError, match="log-mel front end only"):
    tr.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
