"""Every command the README shows exists and takes the flags it is shown with: each module's
`--help` runs, every `--flag` of a README line appears in that command's help, every
`--config.a.b` override names a key of the config, every config file/variant loads, and the
launch scripts named exist and are executable."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = open(os.path.join(ROOT, "README.md")).read()

def _code_lines(text):
  """Lines inside fenced blocks (``` ... ```), shell comments dropped."""
  out, inside = [], False
  for line in text.splitlines():
    if line.startswith("```"):
      inside = not inside
    elif inside:
      out.append(line.split("#")[0].strip())
  return out


LINES = _code_lines(README)


def _commands(prefix):
  """{module or script: [flags used]} over the README's code lines."""
  out = {}
  for line in LINES:
    for m in re.finditer(prefix, line):
      rest = line[m.end():]
      rest = rest.split("&&")[0]
      flags = re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest)
      out.setdefault(m.group(1), set()).update(flags)
  return out


MODULES = _commands(r"python -m (drzjax(?:\.\w+)+)")
BENCH = _commands(r"python -m (bench\.\w+)")


def test_readme_shows_the_commands():
  assert {"drzjax.main", "drzjax.diarize", "drzjax.evaluate", "drzjax.bank", "drzjax.export",
          "drzjax.data.preview"} <= set(MODULES)
  assert len(BENCH) >= 3


def _help(args):
  """`--help` of a command: exit status 0, within seconds (nothing heavy imported first)."""
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  r = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=30)
  assert r.returncode == 0, (args, r.stdout[-1000:], r.stderr[-2000:])
  return r


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_help_lists_the_readme_flags(module):
  helps = _help(["-m", module]).stdout
  if module == "drzjax.bank":  # subcommands: their flags are in their own help
    for sub in ("build", "info", "download"):
      helps += _help(["-m", module, sub]).stdout
  assert helps, f"python -m {module} --help printed nothing"
  flags = {f for f in MODULES[module] if not f.startswith("--config.")}
  missing = [f for f in flags if f not in helps and f != "--help"]
  assert not missing, f"README uses {missing} with python -m {module}, its --help has no such flag"


@pytest.mark.parametrize("script", sorted(BENCH))
def test_bench_help_lists_the_readme_flags(script):
  r = _help(["-m", script])
  assert "--" in r.stdout, r.stdout + r.stderr
  assert f"python -m {script}" in r.stdout, r.stdout  # how to run it, not `NAME.py`
  missing = [f for f in BENCH[script] if f not in r.stdout]
  assert not missing, f"README uses {missing} with {script}"


def test_config_overrides_and_variants_exist():
  from configs.base import get_config  # noqa: PLC0415
  for line in LINES:
    for variant in re.findall(r"configs/base\.py(?::(\w+))?", line):
      get_config(variant or None)
    for key in re.findall(r"--config\.([a-z_.]+)=", line):  # SECTION.KEY is a placeholder
      node = get_config("base")
      for part in key.split("."):
        assert part in node, f"README override --config.{key}: no such config key"
        node = node[part]


def test_launch_scripts_exist():
  for script in set(re.findall(r"(launch/[\w.]+)", README)):
    path = os.path.join(ROOT, script)
    assert os.path.isfile(path) and os.access(path, os.X_OK), script


def test_python_api_snippet_runs_outside_the_repo(tmp_path):
  """The README's Python block, run as written from another directory on a short file: after
  the install line's `pip install -e .` (stood in for by PYTHONPATH) nothing in it may depend on
  the working directory."""
  import numpy as np  # noqa: PLC0415
  import soundfile as sf  # noqa: PLC0415
  assert re.search(r"^pip install -r requirements\.txt && pip install -e \.", README, re.M)
  snippet = re.search(r"```python\n(.*?)```", README, re.S).group(1)
  assert '"meeting.wav"' in snippet
  t = np.arange(3 * 16000) / 16000
  sf.write(tmp_path / "meeting.wav", (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32),
           16000)
  code = snippet + "\nprint('SEGMENTS', len(result.segments), type(result.annotation).__name__)"
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                     text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  assert "SEGMENTS" in r.stdout and "Annotation" in r.stdout, r.stdout
