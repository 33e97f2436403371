"""Pretrained front ends (docs/design.md, "Front ends"): frozen speech networks trained on real
recordings, whose frames join the log-mel stem at the model's 80 ms audio positions.

  model.frontend = "mel"            log-mel stem only (the networks are not loaded)
                   "mel+seg"        + pyannote segmentation-3.0's last hidden layer (128-d, 16.9 ms)
                   "mel+campp"      + CAM++'s trunk frames (512-d, 20 ms)
                   "mel+seg+campp"  + both

Each network's frames are averaged into the audio position whose 80 ms cell holds their centre
(`pool_matrix`, a constant), layer-normalised and projected to d_model by a Dense layer that
starts at zero, and added to the stem's output: a model fine-tuned from a log-mel-only export
starts out exactly that model.

The networks' weights live in the model's parameters under FROZEN[name] (so one jitted step and
one checkpoint hold everything), are filled from drzjax/pretrained/<net> after init (`fill`),
get no updates unless model.frontend_trainable (train.make_optimizer), and are left out of
exports (`strip`; export.load puts them back), which keeps the shipped files small.
"""
import functools

import flax.traverse_util

import jax
import jax.numpy as jnp
import numpy as np

NETS = ("seg", "campp")
FROZEN = {"seg": "frontend_seg", "campp": "frontend_campp"}
WIDTH = {"seg": 128, "campp": 512}


def parse(spec):
  """'mel+seg' -> ('seg',): the pretrained networks a model.frontend string names."""
  parts = [p.strip() for p in str(spec).split("+") if p.strip()]
  bad = [p for p in parts if p not in ("mel",) + NETS]
  if not parts or parts[0] != "mel" or bad or len(set(parts)) != len(parts):
    raise ValueError(f"model.frontend={spec!r}: choose 'mel', optionally followed by +seg "
                     f"and/or +campp (e.g. 'mel+seg+campp')")
  return tuple(n for n in NETS if n in parts)


def frame_centres(name, num_samples):
  """Seconds at which each frame of network `name` is centred, for a num_samples input."""
  from drzjax.nets import campplus  # noqa: PLC0415
  from drzjax.nets import fbank  # noqa: PLC0415
  from drzjax.nets import segmentation  # noqa: PLC0415
  if name == "seg":
    return np.asarray(segmentation.frame_centers(segmentation.num_frames(num_samples)))
  # Trunk frame j is fbank frame 2j (the trunk halves the 10 ms rate): its window's centre.
  n = -(-fbank.num_frames(num_samples) // 2)
  return (campplus.TRUNK_HOP * np.arange(n) + fbank.WIN / 2) / fbank.SAMPLE_RATE


@functools.lru_cache(maxsize=16)
def pool_matrix(name, num_samples, num_positions, position_secs):
  """(num_positions, num_frames) float32: row i averages the frames centred in audio position
  i's cell [(i - 1/2) p, (i + 1/2) p); a position whose cell holds no centre takes the nearest
  frame."""
  centres = frame_centres(name, num_samples)
  cell = np.clip(np.rint(centres / position_secs).astype(np.int64), 0, num_positions - 1)
  m = np.zeros((num_positions, len(centres)), np.float32)
  m[cell, np.arange(len(centres))] = 1.0
  empty = m.sum(1) == 0
  if empty.any():
    nearest = np.abs(centres[None, :] - (np.arange(num_positions) * position_secs)[:, None])
    m[empty, np.argmin(nearest[empty], axis=1)] = 1.0
  return m / m.sum(1, keepdims=True)


def frames(name, variables, wave):
  """(B, N) waveform -> (B, num_frames, WIDTH[name]) frames of the network (float32)."""
  from drzjax.nets import campplus  # noqa: PLC0415
  from drzjax.nets import segmentation  # noqa: PLC0415
  wave = wave.astype(jnp.float32)
  if name == "seg":
    return segmentation.features(variables, wave)
  return campplus.trunk_frames(variables, campplus.features(wave))


def speech_probability(variables, seg_frames):
  """segmentation-3.0's (B, F, 128) last hidden layer (`frames("seg", ...)`) -> (B, F) P(any
  speaker active): its classifier, then 1 - P(the empty powerset class)."""
  head = variables["params"]["classifier"]
  logits = seg_frames.astype(jnp.float32) @ head["kernel"] + head["bias"]
  return 1.0 - jax.nn.softmax(logits, axis=-1)[..., 0]


def abstract_variables(name):
  """The network's variables as ShapeDtypeStructs (for zero-initialising the model's copy)."""
  from drzjax.nets import campplus  # noqa: PLC0415
  from drzjax.nets import segmentation  # noqa: PLC0415
  if name == "seg":
    return jax.eval_shape(segmentation.init_params)
  return flax.traverse_util.unflatten_dict(
      {k: jax.ShapeDtypeStruct(v, jnp.float32) for k, v in campplus.init_shapes().items()},
      sep="/")


@functools.lru_cache(maxsize=None)
def _pretrained(name):
  from drzjax.nets import campplus  # noqa: PLC0415
  from drzjax.nets import segmentation  # noqa: PLC0415
  tree = segmentation.load() if name == "seg" else campplus.load()
  return jax.tree.map(np.asarray, tree)


def fill(params, names):
  """params with each named network's subtree replaced by its pretrained weights, each array
  put where the placeholder lives (same dtype and sharding)."""
  params = dict(params)
  for name in names:
    key = FROZEN[name]
    params[key] = jax.tree.map(
        lambda p, x: jax.device_put(np.asarray(x, p.dtype), getattr(p, "sharding", None)),
        params[key], _pretrained(name))
  return params


def strip(flat):
  """A flat {path: array} of model parameters without the frozen networks' weights."""
  prefixes = tuple(k + "/" for k in FROZEN.values())
  return {k: v for k, v in flat.items() if not k.startswith(prefixes)}


def restore(params, names):
  """Nested numpy params from an export, with the frozen networks' weights put back."""
  params = dict(params)
  for name in names:
    if FROZEN[name] not in params:
      params[FROZEN[name]] = _pretrained(name)
  return params
