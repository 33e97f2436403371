"""The preview CLI: byte-identical output across runs, RTTM = the mixture's labels, audible WAV."""
import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from configs import base
from drzjax import rttm
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import mixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM = 3


def run_preview(out, bank, *extra):
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  return subprocess.run(
      [sys.executable, "-m", "drzjax.data.preview", "--config=configs/base.py:tiny",
       f"--num={NUM}", f"--out={out}", f"--bank={bank}", *extra],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_preview_is_reproducible_and_matches_the_mixtures(small_bank, tmp_path):
  a, b = tmp_path / "a", tmp_path / "b"
  for out in (a, b):
    got = run_preview(out, small_bank, "--split=val", "--start=5")
    assert got.returncode == 0, got.stderr[-3000:]
  names = sorted(os.listdir(a))
  assert names == [f"mix{i:03d}.{ext}" for i in range(NUM) for ext in ("png", "rttm", "wav")]
  assert names == sorted(os.listdir(b))
  for name in names:
    assert (a / name).read_bytes() == (b / name).read_bytes(), name

  # The files are val mixtures 5.. of the validation stream (seed + 1).
  config = base.get_config("tiny")
  cfg = mixtures.MixConfig.from_config(config)
  bank = bank_lib.open_bank(small_bank)
  for i in range(NUM):
    mix = mixtures.make(bank, bank.speakers("val"), config.seed + 1, 5 + i, cfg)
    uri = f"mix{i:03d}"
    lines = (a / f"{uri}.rttm").read_text().splitlines()
    assert all(len(line.split()) == 10 and line.startswith(f"SPEAKER {uri} 1 ") for line in lines)
    got = rttm.read_rttm(a / f"{uri}.rttm")[uri]
    want = sorted((round(s, 3), round(e, 3), spk) for s, e, spk in mix.segments)
    assert [g[2] for g in got] == [w[2] for w in want]
    np.testing.assert_allclose([g[:2] for g in got], [w[:2] for w in want], atol=2e-3)
    audio, sr = sf.read(a / f"{uri}.wav", dtype="float32")
    assert sr == cfg.sample_rate and sf.info(a / f"{uri}.wav").subtype == "PCM_16"
    assert len(audio) == len(mix.audio)
    np.testing.assert_allclose(audio, mix.audio, atol=1.5 / 32768)
    assert (a / f"{uri}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_preview_bad_bank_is_one_line_error(tmp_path):
  got = run_preview(tmp_path / "out", tmp_path / "nowhere")
  assert got.returncode == 1
  assert "error:" in got.stderr and "Traceback" not in got.stderr


def test_help_exits_0_without_the_heavy_imports():
  """`--help` answers at once: nothing that takes seconds to import (jax, matplotlib, scipy,
  grain) is imported before the flags are read."""
  code = ("import runpy, sys\n"
          "sys.argv = ['preview', '--help']\n"
          "try:\n"
          "  runpy.run_module('drzjax.data.preview', run_name='__main__')\n"
          "except SystemExit as e:\n"
          "  print('EXIT', e.code)\n"
          "heavy = ('jax', 'matplotlib', 'scipy', 'grain')\n"
          "print('HEAVY', [m for m in heavy if m in sys.modules])")
  r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                     timeout=60)
  assert "EXIT 0" in r.stdout and "HEAVY []" in r.stdout, r.stdout + r.stderr
  assert "--num" in r.stdout and "--bank" in r.stdout
