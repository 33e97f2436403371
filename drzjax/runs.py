"""A training run read back for inference: its config.json and its newest readable checkpoint.

`diarize` (Diarizer.from_workdir) and `export` both load runs through here, so neither imports
the other for it.
"""
import dataclasses
import json
import logging
import os


def read_config(path):
  """A run's or an export's config.json as a ConfigDict. Keys added since older runs were saved
  get the values that reproduce those runs (one bank, no channel augmentation)."""
  import ml_collections  # noqa: PLC0415
  with open(path) as f:
    d = json.load(f)
  d.setdefault("bank", {}).setdefault("weights", "")
  if "channel" not in d:  # (the module imports scipy.signal: off diarize's start-up path)
    from drzjax.data import channel  # noqa: PLC0415
    d["channel"] = {f.name: 0.0 for f in dataclasses.fields(channel.ChannelConfig)}
  d.setdefault("model", {}).setdefault("frontend", "mel")
  d["model"].setdefault("frontend_trainable", False)
  for key in ("empty_prob", "solo_prob", "lead_prob", "trail_prob", "far_prob", "real_weight"):
    d.setdefault("data", {}).setdefault(key, 0.0)
  d["data"].setdefault("room", "synthetic")  # reverb before the image-source rooms
  d["data"].setdefault("real_dir", "")
  d["data"].setdefault("real_val_fraction", 0.1)
  return ml_collections.ConfigDict(d)


def load(workdir, step=None):
  """-> (config, model, params, step) of the newest readable checkpoint of the run `workdir`
  (or of its checkpoint at `step`).

  Raises FileNotFoundError (not a run, no checkpoint), ValueError (unreadable config) or
  checkpoint.CheckpointMismatch.
  """
  import flax.linen as nn  # noqa: PLC0415 - keep `--help` and argument errors fast
  import jax  # noqa: PLC0415
  from drzjax import checkpoint as ckpt_lib  # noqa: PLC0415
  from drzjax import model as model_lib  # noqa: PLC0415
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{workdir}: not a drzjax run directory (no config.json); train "
                            f"one with python -m drzjax.main --workdir={workdir}")
  try:
    config = read_config(path)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path}: unreadable run config ({e})") from None
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
  abstract = nn.meta.unbox(jax.eval_shape(lambda: model_lib.init_params(model, jax.random.key(0))))
  step, params = ckpt_lib.restore_params(workdir, abstract, step)
  logging.info("loaded %s model from %s (step %d)", config.variant, workdir, step)
  return config, model, params, step
