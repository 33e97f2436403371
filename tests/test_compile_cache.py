"""A repeat `diarize` run on the same machine loads its compiled programs from the persistent
compilation cache (drzjax/compile_cache.py) instead of compiling them again."""
import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from conftest import subprocess_env
from drzjax import compile_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_second_diarize_run_compiles_nothing_new(tmp_path):
  wav = tmp_path / "x.wav"
  sf.write(wav, (0.05 * np.random.default_rng(0).standard_normal(16000 * 12)).astype(np.float32),
           16000)
  # The command's own default (~/.cache/drzjax/jax under a fresh HOME), not the test suite's
  # cache: without compile_cache.enable() nothing would be cached there.
  env = subprocess_env()
  for key in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
    env.pop(key)
  env["HOME"] = str(tmp_path / "home")
  cache = tmp_path / "home" / ".cache" / "drzjax" / "jax"

  def run():
    r = subprocess.run([sys.executable, "-m", "drzjax.diarize", str(wav),
                        f"--out={tmp_path / 'out'}"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return sorted(os.listdir(cache)) if cache.is_dir() else []

  first = run()
  assert first, "the first run cached nothing"
  assert run() == first  # every program of the second run came from the cache


def test_unusable_directory_turns_the_cache_off(tmp_path, caplog):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  assert compile_cache.enable(str(blocker / "cache")) is None
  assert "compilation cache off" in caplog.text
