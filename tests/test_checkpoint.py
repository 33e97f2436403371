"""checkpoint.py's fallback on small real Orbax checkpoints (seconds): the newest readable step
wins, an unreadable one is skipped (training moves it aside, readers leave it), none readable is
a clear error, another model size is never skipped over."""
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drzjax import checkpoint as ckpt_lib


def _state(step):
  return {"params": {"w": jnp.full((3, 4), float(step)), "b": jnp.arange(4.0) + step},
          "opt": jnp.full((5,), -float(step))}


def _save(workdir, steps):
  mngr = ckpt_lib.manager(workdir, keep=len(steps))
  for s in steps:
    state = _state(s)
    ckpt_lib.save(mngr, s, state, None,
                  {"step": s, "param_shapes": ckpt_lib.shapes_of(state["params"])})
  mngr.wait_until_finished()
  mngr.close()


def _corrupt(workdir, step):
  """A half-written checkpoint: every data file of its state cut short."""
  where = os.path.join(workdir, "checkpoints", str(step), "state")
  victims = [os.path.join(d, f) for d, _, fs in os.walk(where) for f in fs
             if os.path.getsize(os.path.join(d, f)) > 64]
  assert victims
  for v in victims:
    with open(v, "r+b") as f:
      f.truncate(os.path.getsize(v) // 3)


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
                      tree)


def _listing(workdir):
  return sorted(os.listdir(os.path.join(workdir, "checkpoints")))


@pytest.fixture
def run(tmp_path):
  wd = str(tmp_path / "run")
  _save(wd, [1, 2])
  _corrupt(wd, 2)
  return wd


def test_restore_params_falls_back_and_leaves_the_bad_one(run, caplog):
  before = _listing(run)
  with caplog.at_level(logging.WARNING):
    step, params = ckpt_lib.restore_params(run, _abstract(_state(0)["params"]))
  assert step == 1
  jax.tree.map(np.testing.assert_array_equal, params, _state(1)["params"])
  assert "checkpoints/2 is unreadable" in caplog.text, caplog.text
  assert _listing(run) == before  # a reader changes nothing


def test_restore_latest_falls_back_and_moves_the_bad_one_aside(run, caplog):
  mngr = ckpt_lib.manager(run, create=False)
  with caplog.at_level(logging.WARNING):
    step, state, meta = ckpt_lib.restore_latest(
        mngr, _abstract(_state(0)), param_shapes=ckpt_lib.shapes_of(_state(0)["params"]))
  assert step == 1 and meta["step"] == 1
  jax.tree.map(np.testing.assert_array_equal, state, _state(1))
  assert "moved aside" in caplog.text, caplog.text
  assert "2.corrupt" in _listing(run) and "2" not in _listing(run)


def test_nothing_readable(run):
  _corrupt(run, 1)
  with pytest.raises(FileNotFoundError, match=r"no readable checkpoint among steps \[2, 1\]"):
    ckpt_lib.restore_params(run, _abstract(_state(0)["params"]))
  # Training starts afresh, the unreadable ones kept aside for inspection.
  mngr = ckpt_lib.manager(run, create=False)
  assert ckpt_lib.restore_latest(mngr, _abstract(_state(0))) is None
  assert _listing(run) == ["1.corrupt", "2.corrupt"]
  with pytest.raises(FileNotFoundError, match="no checkpoint to restore"):
    ckpt_lib.restore_params(run, _abstract(_state(0)["params"]))


def test_another_model_size_is_an_error_not_a_fallback(tmp_path):
  wd = str(tmp_path / "run")
  _save(wd, [1, 2])
  other = {"w": jax.ShapeDtypeStruct((3, 5), jnp.float32),
           "b": jax.ShapeDtypeStruct((4,), jnp.float32)}
  with pytest.raises(ckpt_lib.CheckpointMismatch, match=r"w: checkpoint \[3, 4\] vs model"):
    ckpt_lib.restore_params(wd, other)
  with pytest.raises(ckpt_lib.CheckpointMismatch):
    ckpt_lib.restore_latest(ckpt_lib.manager(wd, create=False), _abstract(_state(0)),
                            param_shapes=ckpt_lib.shapes_of(other))
  assert _listing(wd) == ["1", "2"]
