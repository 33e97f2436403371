"""Listen to and look at the synthetic mixtures a config trains on.

  python -m drzjax.data.preview --config=configs/base.py:tiny --num=8 --out=/tmp/preview \\
      [--split=train|val|test] [--start=0] [--bank=PATH]

Writes, per mixture, mixNNN.wav (16-bit PCM), mixNNN.rttm (its labels) and mixNNN.png (a
timeline of the labels per speaker over the waveform). Mixture NNN is example --start+NNN of the
split's stream with the seed training (train), validation (val) or evaluation (test) uses, so
these are exactly the examples the model sees. Runs give byte-identical files.
"""
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np

from drzjax import files
from drzjax import flaghelp
from drzjax.data import speaker_bank as bank_lib

_CONFIG = config_flags.DEFINE_config_file("config", "configs/base.py", "Config file[:variant].")
_NUM = flags.DEFINE_integer("num", 8, "How many mixtures.")
_START = flags.DEFINE_integer("start", 0, "Index of the first mixture in the stream.")
_OUT = flags.DEFINE_string("out", "preview", "Output directory.")
_SPLIT = flags.DEFINE_enum("split", "train", list(bank_lib.SPLITS), "Bank split to draw from.")
_BANK = flags.DEFINE_string("bank", "", "Bank directory (default: the config's bank).")

def bank_path(config, override=""):
  if override:
    return override
  from drzjax.data import build  # noqa: PLC0415
  return build.default_bank(config)  # builds the embedded bank on first use


def overlap_fraction(segments, n, sr):
  count = np.zeros(n, np.int32)
  for s, e, _ in segments:
    count[round(s * sr):round(e * sr)] += 1
  speech = np.count_nonzero(count)
  return np.count_nonzero(count > 1) / max(speech, 1)


def write_preview(bank, cfg, split, seed, indices, out):
  """Writes the files of mixtures `indices`; returns their names."""
  import soundfile as sf  # noqa: PLC0415 - the heavy imports after flags: a quick --help
  from drzjax import plot  # noqa: PLC0415
  from drzjax import rttm  # noqa: PLC0415
  from drzjax.data import mixtures  # noqa: PLC0415
  os.makedirs(out, exist_ok=True)
  speakers = bank.speakers(split)
  names, stats = [], []
  for n, index in enumerate(indices):
    mix = mixtures.make(bank, speakers, seed, index, cfg)
    name = f"mix{n:03d}"
    base = os.path.join(out, name)
    sf.write(base + ".wav", mix.audio, cfg.sample_rate, subtype="PCM_16")
    rttm.write_rttm(base + ".rttm", name, mix.segments)
    secs = len(mix.audio) / cfg.sample_rate
    chan = f"  channel: {', '.join(mix.channel)}" if mix.channel else ""
    title = (f"{name}: {split} seed {seed} index {index}, {len(mix.speakers)} speakers, "
             f"{len(mix.segments)} segments{chan}")
    plot.save_png(plot.timeline({"": mix.segments}, secs, wave=mix.audio,
                                sample_rate=cfg.sample_rate, title=title), base + ".png")
    turns = count_turns(mix.segments)
    back = mixtures.has_returning_voice(mix.segments)
    stats.append((turns, back))
    print(f"{name}  {secs:5.2f} s  {len(mix.speakers)} speakers  {len(mix.segments):2d} segments"
          f"  {turns:2d} turns{'  voice returns' if back else ''}"
          f"{f'  prompt of {mix.prompt}' if mix.prompt else ''}"
          f"{chan}"
          f"  overlap {100 * overlap_fraction(mix.segments, len(mix.audio), cfg.sample_rate):4.1f}%"
          f"  {' '.join(mix.speakers)}")
    names.append(name)
  if stats:
    print(f"{np.mean([t for t, _ in stats]):.1f} turns per mixture; a voice returns in "
          f"{100 * np.mean([b for _, b in stats]):.0f}% of the mixtures")
  return names


def count_turns(segments):
  """Changes of the speaking voice, counting the first: A A B A -> 3 turns."""
  voices = [w for _, _, w in sorted(segments)]
  return sum(1 for i, w in enumerate(voices) if i == 0 or w != voices[i - 1])


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments {argv[1:]}")
  from drzjax.data import mixtures  # noqa: PLC0415
  from drzjax.data import pipeline  # noqa: PLC0415
  config = _CONFIG.value
  if _NUM.value < 1 or _START.value < 0:
    sys.exit(f"error: --num must be >= 1 and --start >= 0, got {_NUM.value} and {_START.value}")
  if problem := files.dir_problem(_OUT.value, f"--out {_OUT.value}"):
    sys.exit(f"error: {problem}")
  try:
    cfg = mixtures.MixConfig.from_config(config)
    bank = bank_lib.open_bank(bank_path(config, _BANK.value),
                              () if _BANK.value else pipeline.bank_weights(config))
    seed = pipeline.stream_seed(config, _SPLIT.value)  # the stream that uses this split
    write_preview(bank, cfg, _SPLIT.value, seed, range(_START.value, _START.value + _NUM.value),
                  _OUT.value)
  except (bank_lib.BankError, ValueError) as e:
    sys.exit(f"error: {e}")
  except OSError as e:
    sys.exit(f"error: {e.filename or _OUT.value}: {e.strerror or e}")
  print(f"wrote {_NUM.value} mixtures (.wav .rttm .png) to {_OUT.value}")


if __name__ == "__main__":
  flaghelp.exit_if_asked(sys.argv, sys.modules[__name__])
  app.run(main)
