"""Host data throughput: fixed-length mixtures synthesised per second per CPU core.

  python -m bench.data_throughput [--config=configs/base.py[:variant]] [--bank=PATH]
      [--seconds=15] [--workers=2] [--num=240] [--synthetic] [--profile] [--real_dir=DIR]

Four ways, on the config's mixture settings with min_secs = max_secs = --seconds:
  synth     Synthesizer called directly, in this process (workers=0);
  real      the same with data.real_weight=1: chunks of real recordings (data/real.py) read from
            --real_dir, else from 4 three-minute conversations of the bank's voices written to a
            temporary folder as wav + RTTM; to set beside synth;
  grain     the grain dataset in this process (workers=0): adds batching and grain overhead;
  grain-mp  the grain dataset with --workers worker processes (mp_prefetch).
mix/s/core = mix/s / cores used, where cores used = CPU seconds of this process and its workers
per wall second (from /proc; else the nominal min(workers, CPUs), or 1). Measured like that, the
figure holds on a machine shared with other jobs, where wall-clock mix/s drops. The last line is
one JSON object: {"mixtures_per_s_per_core": <grain-mp mix/s/core>,
"real_chunks_per_s_per_core": <real mix/s/core>, "workers": N}.

The bank: --bank, else the config's (drzjax.bank.default_bank, which builds the embedded
espeak-ng bank on first use), else with --synthetic or if that is unavailable, harmonic voices
written to a temporary directory like tests/conftest.write_bank.
"""
import cProfile
import dataclasses
import gc
import json
import os
import pstats
import sys
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np

_CONFIG = config_flags.DEFINE_config_file("config", "configs/base.py",
                                          "Config file[:variant].")
_BANK = flags.DEFINE_string("bank", "", "Bank directory (default: the config's bank).")
_SECONDS = flags.DEFINE_float("seconds", 15.0, "Length of every mixture.")
_WORKERS = flags.DEFINE_integer("workers", 2, "grain worker processes for grain-mp.")
_NUM = flags.DEFINE_integer("num", 240, "Mixtures per measurement.")
_BATCH = flags.DEFINE_integer("batch", 8, "Batch size of the grain measurements.")
_SYNTHETIC = flags.DEFINE_bool("synthetic", False, "Use a temporary harmonic-voice bank.")
_PROFILE = flags.DEFINE_bool("profile", False, "Print a cProfile of make_relay.")
_REAL_DIR = flags.DEFINE_string("real_dir", "", "Recordings (NAME.wav + NAME.rttm) for the real "
                                "row (default: conversations of the bank's voices, written to a "
                                "temporary folder).")
PREFETCH = 2  # batches per worker buffer


def synthetic_bank(path, num_speakers=40, utts_per_speaker=4, seed=0, sr=16000):
  """Harmonic 'voices' with speech regions known by construction (as tests/conftest.py)."""
  from drzjax.data import speaker_bank as bank_lib  # noqa: PLC0415
  rng = np.random.default_rng(seed)
  os.makedirs(path, exist_ok=True)
  audio, utts, offset = [], [], 0
  speakers = [f"spk{i:02d}" for i in range(num_speakers)]
  for i, spk in enumerate(speakers):
    f0 = 90 + 5 * i
    for u in range(utts_per_speaker):
      parts, regions, pos = [], [], 0
      for _ in range(int(rng.integers(3, 8))):
        sil, speech = int(rng.uniform(0.2, 0.6) * sr), int(rng.uniform(0.5, 2.0) * sr)
        t = np.arange(speech) / sr
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))) / sr
        x = sum(np.sin(h * phase) / h for h in range(1, 8))
        parts += [np.zeros(sil), 0.3 * x / np.abs(x).max()]
        regions.append([pos + sil, pos + sil + speech])
        pos += sil + speech
      x = np.concatenate(parts + [np.zeros(int(0.3 * sr))])
      audio.append((x * 32767).astype(np.int16))
      utts.append({"speaker": spk, "file": f"{spk}/{u}.wav", "offset": offset,
                   "length": len(x), "regions": regions})
      offset += len(x)
  np.concatenate(audio).tofile(os.path.join(path, bank_lib.AUDIO))
  n = num_speakers
  splits = {"train": speakers[:n - 8], "val": speakers[n - 8:n - 4], "test": speakers[n - 4:]}
  bank_lib.write_manifest(path, {"sample_rate": sr, "source": "synthetic", "layout": "test",
                                 "vad": "construction", "utterances": utts, "splits": splits})
  return path


def write_recordings(bank, path, num=4, secs=180.0, seed=0):
  """num conversations of 3 of the bank's voices (whole utterances, 0.1-1 s pauses) as wav +
  RTTM: a folder for the real row when none is given."""
  import soundfile as sf  # noqa: PLC0415
  from drzjax import rttm  # noqa: PLC0415
  rng = np.random.default_rng(seed)
  speakers, sr = bank.speakers("train"), bank.sample_rate
  os.makedirs(path, exist_ok=True)
  for i in range(num):
    voices = [speakers[j] for j in rng.choice(len(speakers), 3, replace=False)]
    audio, segs, pos = np.zeros(int((secs + 30) * sr), np.float32), [], 0
    while pos < secs * sr:
      k = int(rng.integers(3))
      utts = bank.utterances_of(voices[k])
      u = utts[int(rng.integers(len(utts)))]
      audio[pos:pos + u.length] += bank.audio(u)
      segs += [((pos + a) / sr, (pos + b) / sr, voices[k]) for a, b in u.regions]
      pos += u.length + int(rng.uniform(0.1, 1.0) * sr)
    sf.write(os.path.join(path, f"rec{i}.wav"), audio[:pos], sr, subtype="PCM_16")
    rttm.write_rttm(os.path.join(path, f"rec{i}.rttm"), f"rec{i}",
                    [(s, e, w.replace("/", "_")) for s, e, w in segs])
  return path


def find_bank(config):
  if _BANK.value:
    return _BANK.value, "given"
  if not _SYNTHETIC.value:
    try:
      from drzjax.data import build  # noqa: PLC0415
      return build.default_bank(config), "default"
    except Exception as e:  # noqa: BLE001 - any failure: fall back to a synthetic bank
      print(f"default bank unavailable ({type(e).__name__}: {e}); using a synthetic one",
            file=sys.stderr)
  return synthetic_bank(os.path.join(tempfile.mkdtemp(), "bank")), "synthetic"


def tree_cpu_seconds(pid):
  """CPU seconds (user + system) of pid and its live descendants; None if /proc is unavailable."""
  try:
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [pid]
    while todo:
      p = todo.pop()
      with open(f"/proc/{p}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
      total += int(fields[11]) + int(fields[12])
      for task in os.listdir(f"/proc/{p}/task"):
        with open(f"/proc/{p}/task/{task}/children") as f:
          todo += [int(c) for c in f.read().split()]
    return total / tick
  except (OSError, ValueError):
    return None


def consume(results):
  """Runs a generator, keeping nothing: a kept list would time page faults, not synthesis."""
  for _ in results:
    pass


def measure(name, workers, nominal_cores, fn, num):
  """Times fn() (which makes `num` mixtures); returns a result row.

  cores used = CPU seconds of this process and its workers / wall seconds: what the work really
  got, which on a shared machine is less than the nominal cores (min(workers, CPUs), or 1).
  """
  cpu0, t0 = tree_cpu_seconds(os.getpid()), time.perf_counter()
  fn()
  wall = time.perf_counter() - t0
  cpu1 = tree_cpu_seconds(os.getpid())
  # Under ~5 clock ticks of CPU time the /proc figure is mostly rounding: the nominal cores then.
  measured = cpu0 is not None and cpu1 is not None and cpu1 - cpu0 >= 0.05
  cores = (cpu1 - cpu0) / wall if measured else nominal_cores
  return {"mode": name, "workers": workers, "mixtures": num, "wall_s": wall,
          "mix_per_s": num / wall, "nominal_cores": nominal_cores, "cores_used": cores,
          "mix_per_s_per_core": num / wall / max(cores, 1e-9)}


def print_table(rows, seconds):
  print(f"{'mode':9} {'workers':>7} {'mixtures':>8} {'wall s':>7} {'mix/s':>7} "
        f"{'cores (nominal)':>15} {'mix/s/core':>10} {'x realtime/core':>15}")
  for r in rows:
    cores = f"{r['cores_used']:.2f} ({r['nominal_cores']})"
    print(f"{r['mode']:9} {r['workers']:7d} {r['mixtures']:8d} {r['wall_s']:7.2f} "
          f"{r['mix_per_s']:7.1f} {cores:>15} {r['mix_per_s_per_core']:10.1f} "
          f"{r['mix_per_s_per_core'] * seconds:15.0f}")


def main(argv):
  del argv
  from drzjax.data import speaker_bank as bank_lib  # noqa: PLC0415
  from drzjax.data import mixtures  # noqa: PLC0415
  from drzjax.data import pipeline  # noqa: PLC0415

  config = _CONFIG.value
  secs, num, batch, workers = _SECONDS.value, _NUM.value, _BATCH.value, _WORKERS.value
  config.data.min_secs = config.data.max_secs = secs  # also sizes the vocab's time range
  path, kind = find_bank(config)
  bank = bank_lib.open_bank(path)
  spec = pipeline.ExampleSpec.from_config(config, path, "train")
  num -= num % batch
  cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  print(f"bank: {path} ({kind}; {len(bank.speakers('train'))} train speakers, "
        f"{sum(u.length for s in bank.speakers('train') for u in bank.utterances_of(s)) / bank.sample_rate / 60:.1f} min)")
  print(f"config: {config.variant}, {secs:g} s mixtures, {spec.mix.num_speakers} speakers max, "
        f"{cpus} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

  # Warm-up off the clock: open the bank, and run every effect once (lazy imports, FFT plans).
  every = dataclasses.replace(spec, mix=dataclasses.replace(
      spec.mix, speed_prob=1.0, pitch_prob=1.0, volume_prob=1.0, noise_prob=1.0))
  for i in range(4):
    pipeline.Synthesizer(every)(10 ** 9 + i)
  synth = pipeline.Synthesizer(spec)
  for utt in synth.bank().utterances:  # page the bank in: a long run has it all in memory
    synth.bank().audio(utt)
  rows = [measure("synth", 0, 1, lambda: consume(synth(i) for i in range(num)), num)]

  real_dir = _REAL_DIR.value or write_recordings(bank, os.path.join(tempfile.mkdtemp(), "real"))
  real_spec = dataclasses.replace(spec, real=dataclasses.replace(
      spec.real, dir=os.path.abspath(real_dir), weight=1.0, val_fraction=0.0))
  chunks = pipeline.Synthesizer(real_spec)
  print(chunks.real().describe())
  for i in range(4):  # warm-up: index the folder, open the files once
    chunks(10 ** 9 + i)
  rows.append(measure("real", 0, 1, lambda: consume(chunks(i) for i in range(num)), num))

  def run_grain(w):
    it = iter(pipeline.dataset(spec, batch, workers=w, prefetch=PREFETCH))
    next(it)  # warm-up (starts the workers): not timed
    return it

  it = run_grain(0)
  rows.append(measure("grain", 0, 1,
                      lambda: consume(next(it) for _ in range(num // batch)), num))
  del it
  if workers > 0:
    it = run_grain(workers)
    for _ in range(workers * (PREFETCH + 1)):  # drain what the workers made while starting
      next(it)
    rows.append(measure("grain-mp", workers, min(workers, cpus),
                        lambda: consume(next(it) for _ in range(num // batch)), num))
    del it
    gc.collect()  # stop the workers now, not in interpreter teardown (noisy tracebacks)

  if _PROFILE.value:
    prof = cProfile.Profile()
    speakers = bank.speakers("train")
    prof.runcall(lambda: [mixtures.make(bank, speakers, 0, i, spec.mix)
                          for i in range(num)])
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)

  print_table(rows, secs)
  real_row = next(r for r in rows if r["mode"] == "real")
  print(json.dumps({"mixtures_per_s_per_core": round(rows[-1]["mix_per_s_per_core"], 1),
                    "real_chunks_per_s_per_core": round(real_row["mix_per_s_per_core"], 1),
                    "workers": rows[-1]["workers"]}), flush=True)


if __name__ == "__main__":
  from drzjax import flaghelp  # noqa: PLC0415
  flaghelp.exit_if_asked(sys.argv, sys.modules[__name__])
  app.run(main)
