"""The shell scripts (launch/, docs/model/real_voices/): a usage line and exit status 2 without
their arguments, and the commands they run, recorded by stand-ins for python and srun (nothing
is trained)."""
import os
import stat
import subprocess

from conftest import ROOT


def _stubs(tmp_path):
  """A bin directory whose python and srun append their arguments to calls.txt."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  for name in ("python", "srun"):
    stub = bin_dir / name
    stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.txt"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
  return bin_dir


def _run(script, *args, env=None, cwd=ROOT):
  return subprocess.run(["bash", os.path.join(ROOT, script), *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=30)


def test_no_arguments_is_a_usage_line():
  env = {k: v for k, v in os.environ.items()
         if k not in ("REAL_BANK", "LS_TRAIN_BANK", "KOKORO_BANK")}
  for script in ("launch/slurm_gpu.sbatch", "launch/tpu_pod.sh", "launch/train_export.sh",
                 "docs/model/real_voices/run.sh", "docs/model/real_voices/queue.sh",
                 "docs/model/real_voices/queue2.sh"):
    r = _run(script, env=env)
    assert r.returncode == 2, (script, r.stderr)
    assert r.stderr.startswith("usage: ") and len(r.stderr.splitlines()) == 1, (script, r.stderr)


def test_slurm_script_runs_main_with_the_config(tmp_path):
  env = dict(os.environ, PATH=f"{_stubs(tmp_path)}:{os.environ['PATH']}")
  r = _run("launch/slurm_gpu.sbatch", "configs/base.py:medium", "--workdir=/shared/m", env=env)
  assert r.returncode == 0, r.stderr
  assert (tmp_path / "calls.txt").read_text() == (
      "srun python -m drzjax.main --config=configs/base.py:medium --workdir=/shared/m\n")


def test_real_voices_run_takes_its_paths_from_the_environment(tmp_path):
  """From any directory: the run and its scores under OUT, the banks given, nothing of the
  machine it was first run on."""
  out = tmp_path / "out"
  env = dict(os.environ, PATH=f"{_stubs(tmp_path)}:{os.environ['PATH']}", REAL_BANK="/b/real",
             ESPEAK_BANK="/b/espeak", OUT=str(out), INIT="/m/init", STEPS="7")
  r = _run("docs/model/real_voices/run.sh", "X", "--config.seed=3", "CHANNELS", env=env,
           cwd=tmp_path)
  assert r.returncode == 0, r.stderr
  train, real, espeak = (tmp_path / "calls.txt").read_text().splitlines()
  assert train.startswith("python -m drzjax.main --config=configs/base.py")
  for arg in (f"--workdir={out}/X", "--config.train.init_from=/m/init",
              "--config.train.steps=7", "--config.seed=3", "--config.channel.floor_prob=0.8"):
    assert arg in train.split(), (arg, train)
  assert real.startswith(f"python -m drzjax.evaluate --workdir={out}/X --data=synthetic")
  assert "--bank=/b/real" in real and f"--json={out}/X.real.json" in real
  assert "--bank=/b/espeak" in espeak and "--split=test" in espeak
  assert {"X.train.log", "X.real.log", "X.espeak.log"} <= set(os.listdir(out))
  for script in ("run.sh", "queue.sh", "queue2.sh"):
    text = open(os.path.join(ROOT, "docs/model/real_voices", script)).read()
    assert "/work/" not in text, script
