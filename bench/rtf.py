"""Real-time factor of `diarize`, warm and cold, for the shipped model (or any export).

  python -m bench.rtf                                   # the shipped model, 600 s of audio
  python -m bench.rtf --model=EXPORT_DIR --minutes=10 --repeats=3

Audio: the real recordings in tests/data (an AMI meeting excerpt and LibriSpeech utterances,
with pauses between them) tiled to --minutes, so the chunks hold real speech, silence and
several voices.
- warm: in this process, after one call on 30 s (compilation), the median wall time of
  `Diarizer(...)(audio)` over --repeats calls; RTF = seconds / seconds of audio. Three ways of
  keeping speakers across chunks, timed alternately: prompts without filling (no linking, as
  before "Who is who"), embeddings without filling, and the default; `linking_cost` is the
  default's time over the first's, minus 1.
- cold start, repeated: `python -m drzjax.diarize ONE_CHUNK.wav` as a new process, twice, with a
  fresh compilation cache (always the shipped model, the command's default): the first run
  compiles, the second loads the compiled programs. The
  file is one chunk (max_secs) long, so the command's wall time is the time from process start
  until the first chunk is decoded, plus writing one RTTM.
Prints a table, then as its last line one JSON object {"rtf_warm", "rtf_warm_without_linking",
"linking_cost", "cold_start_s", "cold_start_repeat_s", ...}.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def real_audio(seconds):
  """The repository's real recordings with 0.3-1 s pauses, tiled to `seconds`."""
  files = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "ami", "*.flac")) +
                 glob.glob(os.path.join(ROOT, "tests", "data", "librispeech", "*", "*", "*.flac")))
  rng = np.random.default_rng(0)
  parts = []
  for path in files:
    parts += [sf.read(path, dtype="float32")[0], np.zeros(int(rng.uniform(0.3, 1.0) * SR),
                                                         np.float32)]
  one = np.concatenate(parts)
  return np.tile(one, int(np.ceil(seconds * SR / len(one))))[:int(seconds * SR)]


def command_seconds(wav, out, cache):
  """Wall seconds of `python -m drzjax.diarize wav` (the shipped model) as a new process."""
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache, JAX_PLATFORMS="cpu")
  cmd = [sys.executable, "-m", "drzjax.diarize", wav, f"--out={out}"]
  t = time.perf_counter()
  r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  if r.returncode:
    sys.exit(f"error: {' '.join(cmd)} failed: {r.stderr.strip().splitlines()[-1:]}")
  return time.perf_counter() - t


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m bench.rtf", description=__doc__.split("\n\n")[0])
  p.add_argument("--model", default="", help="an export directory (default: the shipped model)")
  p.add_argument("--minutes", type=float, default=10.0, help="audio length for the warm RTF")
  p.add_argument("--repeats", type=int, default=3, help="warm calls timed (median)")
  a = p.parse_args(argv)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  import jax  # noqa: PLC0415
  from drzjax import diarize  # noqa: PLC0415
  d = diarize.Diarizer.pretrained(a.model or None)
  audio = real_audio(60 * a.minutes)
  # Linking chunks (issue "Who is who") side by side, alternating, so the machine's load falls
  # on all of them alike: without linking (each chunk prompted with clips of the known voices,
  # as before), embeddings alone, and the default (embeddings + filling from the segmentation
  # network's speech regions).
  settings = [("prompts, no fill", "prompts", False), ("embeddings, no fill", "embeddings", False),
              (f"{diarize.DEFAULT_LINKING} + fill (default)", diarize.DEFAULT_LINKING, True)]
  for _, linking, fill in settings:
    d.fill = fill
    d(audio[:30 * SR], linking=linking)  # compile
  times = {name: [] for name, _, _ in settings}
  for _ in range(a.repeats):
    for name, linking, fill in settings:
      d.fill = fill
      t = time.perf_counter()
      d(audio, linking=linking)
      times[name].append(time.perf_counter() - t)
  med = {name: float(np.median(v)) for name, v in times.items()}
  warm = med[settings[-1][0]]
  with tempfile.TemporaryDirectory() as tmp:
    wav = os.path.join(tmp, "chunk.wav")
    sf.write(wav, audio[:int(d.model.cfg.max_secs * SR)], SR)
    cache = os.path.join(tmp, "cache")
    cold = command_seconds(wav, os.path.join(tmp, "out1"), cache)
    repeat = command_seconds(wav, os.path.join(tmp, "out2"), cache)
  secs = len(audio) / SR
  device = jax.devices()[0].device_kind
  print(f"model {a.model or 'shipped'} (frontend {d.model.cfg.frontend}), {device}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}")
  print(f"{'what':<44} {'seconds':>8}")
  for name, t in med.items():
    print(f"{f'warm, {name}':<44} {t:8.2f}   RTF {t / secs:.4f}")
  print(f"{'cold start to first chunk, empty cache':<44} {cold:8.2f}")
  print(f"{'cold start to first chunk, repeat (cached)':<44} {repeat:8.2f}")
  base = med[settings[0][0]]
  print(json.dumps({"rtf_warm": round(warm / secs, 5),
                    "rtf_warm_without_linking": round(base / secs, 5),
                    "linking_cost": round(warm / base - 1, 3), "cold_start_s": round(cold, 2),
                    "cold_start_repeat_s": round(repeat, 2), "audio_secs": secs,
                    "frontend": d.model.cfg.frontend, "device": device}))


if __name__ == "__main__":
  main()
