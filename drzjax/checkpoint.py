"""Orbax checkpoints: train state + grain iterator state + a small JSON of metadata.

Restore priority (one loop, `newest_readable`, for training and for the readers): the newest
step whose checkpoint reads back; a corrupt or half-written newest one is skipped with a warning
and the previous one is used. Training also moves it aside to `<step>.corrupt` (kept for
inspection; left in place it would block the resumed run from saving that step again). A
checkpoint of another model size is an error naming the mismatching shapes (checked against the
metadata before any array is read).
"""
import logging
import os

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointMismatch(Exception):
  pass


def manager(workdir, keep=3, create=True):
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=create,
                                         enable_async_checkpointing=True)
  return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), "checkpoints"),
                               options=options)


def shapes_of(params):
  """{'block0/qkv/kernel': [d, 3, h, dh], ...} for mismatch messages."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  return {"/".join(str(getattr(k, "key", k)) for k in path): list(np.shape(v))
          for path, v in flat}


def save(mngr, step, state, data_iter, meta, force=False):
  args = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
  if data_iter is not None:
    args["data"] = grain.checkpoint.CheckpointSave(data_iter)
  return mngr.save(step, args=ocp.args.Composite(**args), force=force)


def check_shapes(saved, expected, where):
  bad = [f"{k}: checkpoint {saved.get(k)} vs model {v}" for k, v in expected.items()
         if saved.get(k) != v]
  bad += [f"{k}: in checkpoint only" for k in saved if k not in expected]
  if bad:
    raise CheckpointMismatch(f"{where} was written by a different model size "
                             f"({len(bad)} mismatching parameters):\n  " + "\n  ".join(bad[:10]))


def _move_aside(mngr, step, why):
  """Rename an unreadable checkpoint to <step>.corrupt (process 0) and forget it."""
  where = os.path.join(str(mngr.directory), str(step))
  target = where + ".corrupt"
  if jax.process_index() == 0 and os.path.isdir(where):
    n = 1
    while os.path.exists(target):
      target, n = f"{where}.corrupt{n}", n + 1
    os.rename(where, target)
  logging.warning("checkpoint %s is %s; moved aside to %s, trying the previous one", where, why,
                  target)
  mngr.reload()


def _warn(mngr, step, why):
  logging.warning("checkpoint %s is %s; trying the previous one",
                  os.path.join(str(mngr.directory), str(step)), why)


def newest_readable(mngr, read, move_aside):
  """-> (step, read(step)) for the newest step that reads back, or None if none does.

  The one fallback loop of training and of the readers (diarize, evaluate, export). A checkpoint
  of another model size (CheckpointMismatch) is an error, not a reason to fall back. move_aside:
  training renames an unreadable checkpoint (left in place it would block saving that step
  again); readers only warn, since they may run beside a live run or on a directory they do not
  own.
  """
  for step in sorted(mngr.all_steps(), reverse=True):
    try:
      return step, read(step)
    except CheckpointMismatch:
      raise
    except Exception as e:  # noqa: BLE001 - any read failure means: try the previous one
      first = str(e).splitlines()[0][:200] if str(e) else ""
      (_move_aside if move_aside else _warn)(mngr, step,
                                             f"unreadable ({type(e).__name__}: {first})")
  return None


def _read_meta(mngr, step, param_shapes):
  meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
  if param_shapes is not None:
    check_shapes(meta.get("param_shapes", {}), param_shapes,
                 os.path.join(str(mngr.directory), str(step)))
  return meta


def restore_latest(mngr, abstract_state, data_iter=None, param_shapes=None):
  """-> (step, state, meta) from the newest readable checkpoint, or None if there is none.

  abstract_state: a pytree of jax.ShapeDtypeStruct with shardings (the target layout may differ
  from the saved one). data_iter, if given, is restored in place. Unreadable checkpoints are
  moved aside (newest_readable).
  """
  def read(step):
    meta = _read_meta(mngr, step, param_shapes)  # shapes checked before any array is read
    args = {"state": ocp.args.StandardRestore(abstract_state)}
    if data_iter is not None:
      args["data"] = grain.checkpoint.CheckpointRestore(data_iter)
    return mngr.restore(step, args=ocp.args.Composite(**args))["state"], meta

  found = newest_readable(mngr, read, move_aside=True)
  return None if found is None else (found[0], *found[1])


def restore_params(workdir, abstract_params, step=None):
  """-> (step, params) from the newest readable checkpoint of workdir (or the one at `step`),
  without optimizer state.

  Falls back to older checkpoints like restore_latest, but leaves unreadable ones in place;
  raises FileNotFoundError if there is none or none reads, or no checkpoint at `step`.
  """
  mngr = manager(workdir, create=False)
  steps = sorted(mngr.all_steps(), reverse=True)
  if not steps:
    raise FileNotFoundError(f"{mngr.directory}: no checkpoint to restore (train first: "
                            "python -m drzjax.main --workdir=...)")
  if step is not None and step not in steps:
    raise FileNotFoundError(f"{mngr.directory}: no checkpoint at step {step} (kept: "
                            f"{', '.join(map(str, sorted(steps)))})")
  item = {"params": abstract_params}

  def read(step):
    _read_meta(mngr, step, shapes_of(abstract_params))
    restored = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
        item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item),
        partial_restore=True)))
    return restored["state"]["params"]

  if step is not None:  # one asked-for checkpoint: its own error, no fallback to another
    return step, read(step)
  found = newest_readable(mngr, read, move_aside=False)
  if found is None:
    raise FileNotFoundError(f"{mngr.directory}: no readable checkpoint among steps {steps} "
                            "(each one's error is in the warnings above)")
  return found
