"""The shipped model: a run's parameters only, in one .npz beside its config and provenance.

  python -m drzjax.export --workdir=runs/base --out=drzjax/pretrained/base [--note="..."]
  python -m drzjax.export --workdir=runs/base --out=runs/base_at2000 --step=2000   # a curve's point

writes OUT/params.npz (float32 arrays keyed by their '/'-joined parameter path), OUT/config.json
(the run's config, its bank reset to the embedded default, its recordings to none) and
OUT/meta.json (step, parameter count, the bank(s) and recordings it trained on, where and when
it was exported, the note). `load(dir)` reads them back; `diarize`, `evaluate` and
`Diarizer.pretrained()` use DEFAULT_DIR when no --workdir is given.
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np

from drzjax import files
from drzjax import runs

DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", "base")


def flatten(params):
  """Nested parameters -> {'/'-joined path: float32 array}: the keys of params.npz."""
  from flax import traverse_util  # noqa: PLC0415 - flax only when parameters are handled
  return {k: np.asarray(v, np.float32)
          for k, v in traverse_util.flatten_dict(params, sep="/").items()}


def unflatten(flat):
  """{'/'-joined path: array} (params.npz) -> nested parameters."""
  from flax import traverse_util  # noqa: PLC0415
  return traverse_util.unflatten_dict(flat, sep="/")


def export(workdir, out, note="", step=None):
  """Newest checkpoint of `workdir` (or its checkpoint at `step`: a point of a learning curve)
  -> out/{params.npz, config.json, meta.json}; -> meta."""
  import jax  # noqa: PLC0415
  from drzjax import frontends  # noqa: PLC0415
  config, model, params, step = runs.load(workdir, step)
  flat = flatten(jax.device_get(params))
  os.makedirs(out, exist_ok=True)
  # Frozen pretrained front ends are not copied: load() takes them from drzjax/pretrained/<net>.
  stored = flat if model.cfg.frontend_trainable else frontends.strip(flat)
  meta = {"step": step, "params": int(sum(v.size for v in flat.values())),
          "frontend": model.cfg.frontend,
          "frozen_params": int(sum(v.size for k, v in flat.items() if k not in stored)),
          "workdir": os.path.abspath(workdir), "device": str(jax.devices()[0].device_kind),
          "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "note": note, "bank": {"path": config.bank.path, "weights": config.bank.weights}}
  if config.data.real_weight > 0:
    meta["real"] = {"dir": config.data.real_dir, "weight": config.data.real_weight}
  # The training machine's bank and recording directories mean nothing elsewhere: the exported
  # config names the embedded default bank (its test voices are evaluate's default set) and no
  # recordings; meta.json keeps what the run trained on.
  config = config.copy_and_resolve_references()
  config.bank.path, config.bank.weights = "", ""
  config.data.real_dir, config.data.real_weight = "", 0.0
  with files.atomic_write(os.path.join(out, "params.npz"), "wb") as f:
    np.savez(f, **stored)
  with files.atomic_write(os.path.join(out, "config.json")) as f:
    f.write(config.to_json(indent=2))
  with files.atomic_write(os.path.join(out, "meta.json")) as f:
    f.write(json.dumps(meta, indent=2) + "\n")
  return meta


def load(path=DEFAULT_DIR):
  """-> (config ConfigDict, params nested dict of float32 arrays, meta dict)."""
  files = [os.path.join(path, f) for f in ("config.json", "params.npz", "meta.json")]
  for f in files:
    if not os.path.exists(f):
      raise FileNotFoundError(f"{f}: missing; {path} is not an exported drzjax model")
  config = runs.read_config(files[0])
  with np.load(files[1]) as z:
    params = unflatten({k: z[k] for k in z.files})
  if not config.model.frontend_trainable:
    from drzjax import frontends  # noqa: PLC0415 - jax only for models that need it
    params = frontends.restore(params, frontends.parse(config.model.frontend))
  with open(files[2]) as f:
    meta = json.load(f)
  return config, params, meta


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m drzjax.export", description=__doc__.split("\n\n")[0])
  p.add_argument("--workdir", required=True, help="training run (its newest checkpoint, or --step)")
  p.add_argument("--out", default=DEFAULT_DIR, help=f"output directory (default {DEFAULT_DIR})")
  p.add_argument("--note", default="", help="free text kept in meta.json (hardware, recipe)")
  p.add_argument("--step", type=int, default=None,
                 help="export the checkpoint at this step instead of the newest")
  args = p.parse_args(argv)
  try:
    meta = export(args.workdir, args.out, args.note, args.step)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"error: {e}")
  print(f"exported step {meta['step']} ({meta['params'] / 1e6:.2f}M parameters) to {args.out}")


if __name__ == "__main__":
  main()
