"""Shared fixtures. 8 simulated CPU devices for every test: XLA reads the flag at jax import."""
import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from drzjax.data import speaker_bank as bank_lib  # noqa: E402


def harmonic_voice(rng, f0, n, sr=16000):
  """A buzzy vowel-like tone with a wobbling f0: speech-shaped enough for energy labels."""
  t = np.arange(n) / sr
  f = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
  phase = 2 * np.pi * np.cumsum(f) / sr
  x = sum(np.sin(h * phase) / h for h in range(1, 8))
  return (0.3 * x / np.abs(x).max()).astype(np.float32)


def write_bank(path, num_speakers=10, utts_per_speaker=3, seed=0, sr=16000):
  """A real bank on disk whose speech regions are known by construction (not by VAD)."""
  rng = np.random.default_rng(seed)
  path.mkdir(parents=True, exist_ok=True)
  audio, utts, offset = [], [], 0
  speakers = [f"spk{i:02d}" for i in range(num_speakers)]
  for i, spk in enumerate(speakers):
    f0 = 90 + 25 * i
    for u in range(utts_per_speaker):
      parts, regions, pos = [], [], 0
      for _ in range(int(rng.integers(2, 5))):
        sil = int(rng.uniform(0.2, 0.6) * sr)
        speech = int(rng.uniform(0.5, 2.0) * sr)
        parts += [np.zeros(sil, np.float32), harmonic_voice(rng, f0, speech, sr)]
        regions.append([pos + sil, pos + sil + speech])
        pos += sil + speech
      parts.append(np.zeros(int(0.3 * sr), np.float32))
      x = np.concatenate(parts)
      audio.append((x * 32767).astype(np.int16))
      utts.append({"speaker": spk, "file": f"{spk}/{u}.wav", "offset": offset,
                   "length": len(x), "regions": regions})
      offset += len(x)
  np.concatenate(audio).tofile(path / bank_lib.AUDIO)
  splits = {"train": speakers[:-4], "val": speakers[-4:-2], "test": speakers[-2:]}
  bank_lib.write_manifest(str(path), {"sample_rate": sr, "source": "test", "layout": "test",
                                      "vad": "construction", "utterances": utts,
                                      "splits": splits})
  return str(path)


@pytest.fixture(scope="session")
def small_bank(tmp_path_factory):
  return write_bank(tmp_path_factory.mktemp("bank") / "bank")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(devices=1):
  """The environment of a command run by a test: CPU, `devices` simulated devices, and a
  persistent compilation cache shared by all of them, so that commands compiling the same
  program (the same train step, the same decoder) compile it once."""
  return dict(os.environ, JAX_PLATFORMS="cpu",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
              JAX_COMPILATION_CACHE_DIR=os.path.join(ROOT, ".pytest_cache", "jax"),
              JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
              JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def run_main(workdir, bank, *overrides, devices=1, timeout=300, wait=True, env_extra=None):
  """`python -m drzjax.main` (tiny config) in a real subprocess."""
  env = subprocess_env(devices)
  env.update(env_extra or {})
  cmd = [sys.executable, "-m", "drzjax.main", "--config=configs/base.py:tiny",
         f"--workdir={workdir}", f"--config.bank.path={bank}", *overrides]
  if not wait:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
  return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_run(small_bank, tmp_path_factory):
  """An uninterrupted 12-step tiny run logging every step, checkpoints at 4, 8, 12."""
  wd = str(tmp_path_factory.mktemp("tiny_run") / "run")
  r = run_main(wd, small_bank, "--config.train.steps=12", "--config.train.log_every=1",
               "--config.train.checkpoint_every=4")
  assert r.returncode == 0, r.stdout + r.stderr
  return wd


@pytest.fixture(autouse=True, scope="session")
def few_rooms():
  """Mixtures in tests draw from the first 4 rooms of the pool (drzjax/data/rooms.py),
  simulated once into the repository's .pytest_cache: the whole pool takes minutes to build."""
  from drzjax.data import rooms  # noqa: PLC0415
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(rooms, "NUM_ROOMS", 4)
    mp.setenv("DRZJAX_ROOMS_DIR", os.path.join(ROOT, ".pytest_cache", "rooms"))
    yield
