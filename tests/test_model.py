"""The model's written-out pieces equal what they replace: model.LayerNorm / model.Dense (hand-written
backward passes) against flax's nn.LayerNorm / nn.Dense, and model.attend against
jax.nn.dot_product_attention — values and gradients."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drzjax import model as model_lib


def _grads(module, x, seed):
  """(output, d params, d x) of sum(output * w) for a fixed random w."""
  params = nn.unbox(module.init(jax.random.key(0), x))
  w = jax.random.normal(jax.random.key(seed), module.apply(params, x).shape)

  def loss(p, x):
    return (module.apply(p, x).astype(jnp.float32) * w).sum()

  gp, gx = jax.grad(loss, argnums=(0, 1))(params, x)
  return module.apply(params, x), gp, gx


def _close(a, b, tol):
  for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree.leaves(b)):
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    assert x.shape == y.shape, path
    np.testing.assert_allclose(x, y, rtol=tol, atol=tol * np.abs(y).max(), err_msg=str(path))


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 2e-5), (jnp.bfloat16, 2e-2)])
def test_layer_norm_equals_flax(dtype, tol):
  # Shifted, scaled input: the mean and variance terms of the backward both matter.
  x = 3.0 + 2.0 * jax.random.normal(jax.random.key(1), (2, 7, 32))
  ours = model_lib.LayerNorm(dtype)
  theirs = nn.LayerNorm(dtype=dtype)
  # Non-trivial scale and bias: the same values in both.
  p = nn.unbox(theirs.init(jax.random.key(0), x))
  p = jax.tree.map(lambda a: a + jax.random.normal(jax.random.key(2), a.shape), p)
  w = jax.random.normal(jax.random.key(3), x.shape)

  def grads(module):
    def loss(p, x):
      return (module.apply(p, x).astype(jnp.float32) * w).sum()
    return module.apply(p, x), *jax.grad(loss, argnums=(0, 1))(p, x)

  assert jax.tree.structure(nn.unbox(ours.init(jax.random.key(0), x))) == jax.tree.structure(p)
  a, b = grads(ours), grads(theirs)
  assert a[0].dtype == b[0].dtype == dtype
  _close(a, b, tol)


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_equals_flax(use_bias):
  x = jax.random.normal(jax.random.key(1), (2, 7, 32))
  ours = model_lib.Dense(48, ("embed", "mlp"), use_bias)
  theirs = nn.Dense(48, use_bias=use_bias)
  pa = nn.unbox(ours.init(jax.random.key(0), x))
  pb = nn.unbox(theirs.init(jax.random.key(0), x))
  assert jax.tree.map(jnp.shape, pa) == jax.tree.map(jnp.shape, pb)
  _close(pa, pb, 0)  # the same initialisers: same values from the same key
  a, b = _grads(ours, x, 4), _grads(theirs, x, 4)
  _close(a, b, 2e-5)


def test_attend_equals_dot_product_attention():
  b, t, h, d = 2, 9, 3, 8
  q, k, v, dy = (jax.random.normal(jax.random.key(i), (b, t, h, d)) for i in range(4))
  mask = model_lib.attention_mask(jnp.arange(t), jnp.arange(t), 4, True)

  def ours(q, k, v):
    return (model_lib.attend(q, k, v, mask) * dy).sum()

  def reference(q, k, v):
    return (jax.nn.dot_product_attention(q, k, v, mask=mask[None, None]) * dy).sum()

  np.testing.assert_allclose(model_lib.attend(q, k, v, mask),
                             jax.nn.dot_product_attention(q, k, v, mask=mask[None, None]),
                             rtol=1e-5, atol=1e-5)
  for g, r in zip(jax.grad(ours, (0, 1, 2))(q, k, v), jax.grad(reference, (0, 1, 2))(q, k, v)):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 1e-2)])
def test_gelu_equals_flax(dtype, tol):
  x = (3 * jax.random.normal(jax.random.key(1), (1000,))).astype(dtype)
  np.testing.assert_allclose(np.asarray(model_lib.gelu(x), np.float32),
                             np.asarray(nn.gelu(x), np.float32), rtol=tol, atol=tol)
  g = jax.grad(lambda x: model_lib.gelu(x).astype(jnp.float32).sum())(x)
  r = jax.grad(lambda x: nn.gelu(x).astype(jnp.float32).sum())(x)
  assert g.dtype == dtype
  np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(r, np.float32),
                             rtol=tol, atol=tol)
