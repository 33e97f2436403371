"""Pretrained front ends joining the log-mel stem (drzjax/frontends.py): alignment of their
frames to the 80 ms positions, a zero-initialised projection (a model that gains a front end
starts as the model it was), frozen weights that training leaves alone, and exports that leave
them out and get them back."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flax.linen as nn
from configs import base
from drzjax import frontends
from drzjax import model as model_lib
from drzjax import train


def test_parse():
  assert frontends.parse("mel") == ()
  assert frontends.parse("mel+campp+seg") == ("seg", "campp")
  for bad in ("", "seg", "mel+wavlm", "mel+seg+seg", "campp+mel"):
    with pytest.raises(ValueError, match="model.frontend"):
      frontends.parse(bad)


@pytest.mark.parametrize("name", frontends.NETS)
def test_pool_matrix_puts_each_frame_in_its_position(name):
  n, p, secs = 160000, 125, 0.08
  m = frontends.pool_matrix(name, n, p, secs)
  centres = frontends.frame_centres(name, n)
  assert m.shape == (p, len(centres))
  np.testing.assert_allclose(m.sum(1), 1.0, rtol=1e-6)
  # Every frame feeds exactly the position whose 80 ms cell holds its centre.
  for f in range(0, len(centres), 37):
    (rows,) = np.nonzero(m[:, f])
    assert list(rows) == [min(int(np.rint(centres[f] / secs)), p - 1)], (f, rows)
  # Frame rates: segmentation 16.875 ms (~4.7 per position), CAM++ trunk 20 ms (4 per position).
  step = np.diff(centres).mean()
  assert step == pytest.approx(0.016875 if name == "seg" else 0.02, rel=1e-6)


@pytest.fixture(scope="module")
def seg_model():
  c = base.get_config("tiny")
  c.model.frontend = "mel+seg"
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(c))
  params = nn.meta.unbox(jax.jit(lambda k: model_lib.init_params(model, k))(jax.random.key(0)))
  return c, model, frontends.fill(params, model.cfg.nets)


def test_fill_loads_the_pretrained_network(seg_model):
  from drzjax.nets import segmentation  # noqa: PLC0415
  _, _, params = seg_model
  want = jax.tree.leaves(segmentation.load())
  got = jax.tree.leaves(params[frontends.FROZEN["seg"]])
  assert len(want) == len(got) and all(np.array_equal(a, b) for a, b in zip(want, got))


def test_new_front_end_starts_as_the_model_without_it(seg_model):
  """The projection starts at zero: the same shared weights give the log-mel model's outputs;
  a non-zero projection makes the segmentation features change them."""
  c, model, params = seg_model
  mel = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(base.get_config("tiny")))
  shared = {k: v for k, v in params.items() if k in mel_keys(mel)}
  rng = np.random.default_rng(0)
  wave = jnp.asarray(0.05 * rng.standard_normal((2, model.cfg.num_samples)), jnp.float32)
  labels = jnp.zeros((2, model.cfg.max_label_len), jnp.int32)
  run = jax.jit(lambda p, w, l: model.apply({"params": p}, w, l))
  a = run(params, wave, labels)
  b = jax.jit(lambda p, w, l: mel.apply({"params": p}, w, l))(shared, wave, labels)
  np.testing.assert_allclose(a, b, atol=1e-5)
  kernel = 0.1 * jax.random.normal(jax.random.key(1), params["seg_proj"]["kernel"].shape)
  moved = dict(params, seg_proj={"kernel": kernel, "bias": params["seg_proj"]["bias"]})
  assert float(jnp.abs(run(moved, wave, labels) - b).max()) > 1e-2


def mel_keys(mel_model):
  return set(jax.eval_shape(lambda: model_lib.init_params(mel_model, jax.random.key(0))))


def test_training_leaves_frozen_weights_alone(seg_model):
  """Real optimizer steps move the model and the projection, not the pretrained network (no
  update, no weight decay, no gradient)."""
  c, model, params = seg_model
  rng = np.random.default_rng(1)
  batch = {"audio": jnp.asarray(0.05 * rng.standard_normal((2, model.cfg.num_samples)),
                                jnp.float32),
           "labels": jnp.asarray(rng.integers(2, 20, (2, model.cfg.max_label_len)), jnp.int32),
           "frames": jnp.ones((2, model.cfg.num_audio, model.cfg.speaker_slots), jnp.uint8)}
  key = frontends.FROZEN["seg"]

  def step(tx, p):
    """Two optimizer steps (the learning rate warms up from 0 at step 0)."""
    def loss(p):
      t = train.loss_terms(p, model, batch, jax.random.key(0), False, c.train)
      return t["ce"] + t["bce"]
    @jax.jit
    def one(p, state):
      g = jax.grad(loss)(p)
      updates, state = tx.update(g, state, p)
      return jax.tree.map(lambda a, u: a + u, p, updates), state, g
    state = tx.init(p)
    for _ in range(2):
      p, state, g = one(p, state)
    return p, g

  assert train.frozen_keys(model.cfg) == (key,)
  after, grads = step(train.make_optimizer(c.train, train.frozen_keys(model.cfg)), params)
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after[key]),
                                                   jax.tree.leaves(params[key])))
  assert not np.array_equal(after["seg_proj"]["kernel"], params["seg_proj"]["kernel"])
  assert not np.array_equal(after["block0"]["qkv"]["kernel"], params["block0"]["qkv"]["kernel"])
  # stop_gradient: the frozen network gets no gradient at all.
  assert all(not np.any(g) for g in jax.tree.leaves(grads[key]))


def test_export_leaves_frozen_weights_out_and_load_puts_them_back(seg_model, tmp_path):
  import json  # noqa: PLC0415
  from drzjax import export  # noqa: PLC0415
  c, model, params = seg_model
  flat = export.flatten(jax.device_get(params))
  stored = frontends.strip(flat)
  assert set(flat) - set(stored) == {k for k in flat if k.startswith("frontend_seg/")}
  assert any(k.startswith("seg_proj/") for k in stored)
  np.savez(tmp_path / "params.npz", **stored)
  (tmp_path / "config.json").write_text(c.to_json())
  (tmp_path / "meta.json").write_text(json.dumps({"step": 1}))
  _, loaded, _ = export.load(str(tmp_path))
  back = export.flatten(loaded)
  assert set(back) == set(flat)
  assert all(np.array_equal(back[k], flat[k]) for k in flat)


def test_trainable_front_end_gets_gradients(seg_model):
  """model.frontend_trainable: no stop_gradient, and the optimizer leaves nothing frozen."""
  import dataclasses  # noqa: PLC0415
  c, model, params = seg_model
  trainable = model_lib.DiarizationTransformer(
      dataclasses.replace(model.cfg, frontend_trainable=True))
  assert train.frozen_keys(trainable.cfg) == ()
  rng = np.random.default_rng(2)
  batch = {"audio": jnp.asarray(0.05 * rng.standard_normal((1, model.cfg.num_samples)),
                                jnp.float32),
           "labels": jnp.asarray(rng.integers(2, 20, (1, model.cfg.max_label_len)), jnp.int32),
           "frames": jnp.ones((1, model.cfg.num_audio, model.cfg.speaker_slots), jnp.uint8)}
  # The projection starts at zero, which would block the gradient: give it a value first.
  params = dict(params, seg_proj=dict(params["seg_proj"], kernel=0.1 * jax.random.normal(
      jax.random.key(4), params["seg_proj"]["kernel"].shape)))
  loss = lambda p: train.loss_terms(p, trainable, batch, jax.random.key(0), False, c.train)["ce"]  # noqa: E731
  grads = jax.jit(jax.grad(loss))(params)
  assert any(np.any(g) for g in jax.tree.leaves(grads[frontends.FROZEN["seg"]]))
