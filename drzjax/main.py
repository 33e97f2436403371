"""Train drzjax: `python -m drzjax.main --config=configs/base.py [--workdir=DIR]`.

Flags and dispatch only; the training lives in train.py. Resumes from the newest checkpoint in
--workdir. Errors a user can fix (bad config, bad bank, mismatched checkpoint, NaN loss) print
one message and exit non-zero, without a traceback.
"""
import logging
import os
import sys

from absl import flags
from ml_collections import config_flags

from drzjax import flaghelp
from drzjax import logs

_CONFIG = config_flags.DEFINE_config_file("config", "configs/base.py", "Config file[:variant].")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default runs/<variant>).")
_COORD = flags.DEFINE_string("coordinator_address", "", "host:port of process 0 (multi-process).")
_NPROC = flags.DEFINE_integer("num_processes", 0, "Processes in a multi-process run.")
_PID = flags.DEFINE_integer("process_id", -1, "This process's index in a multi-process run.")


def parse_flags(argv):
  """absl flags with one-line errors: an unknown config key is a message, not a traceback."""
  flaghelp.exit_if_asked(argv, sys.modules[__name__],
                         "\n  --config.SECTION.KEY=VALUE: override any field of the config file "
                         "(configs/base.py lists them)")
  for a in argv[1:]:  # before any heavy import: a missing config file is a one-line error
    if a.startswith("--config="):
      path = a.split("=", 1)[1].split(":", 1)[0]
      if not os.path.isfile(path):
        sys.exit(f"error: --config: no such config file {path!r} (e.g. configs/base.py or "
                 "configs/base.py:tiny)")
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    # A config file that raised: absl puts its traceback in the message; keep the first line
    # (which flag) and the last (what went wrong).
    sys.exit(f"error: {lines[0]} {lines[-1]}" if len(lines) > 1 else f"error: {e}")
  except (AttributeError, KeyError, ValueError, TypeError) as e:
    bad = [a for a in argv[1:] if a.startswith("--config")]
    msg = str(e).strip("'\"").replace("\\n", " ").replace("\\'", "'")
    sys.exit(f"error: bad --config or override {' '.join(bad)}: {msg}")


def setup_logging():
  logs.setup(timestamps=True)
  from absl import logging as absl_logging  # noqa: PLC0415
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax/grain chatter


def main(argv):
  parse_flags(argv)
  setup_logging()
  from drzjax import sharding  # noqa: PLC0415 - import jax only after flags are parsed
  sharding.maybe_initialize_distributed(_COORD.value, _NPROC.value, _PID.value)
  from drzjax import checkpoint, train  # noqa: PLC0415
  from drzjax.data.speaker_bank import BankError  # noqa: PLC0415
  try:
    config = _CONFIG.value  # ml_collections loads the file here
  except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
    msg = str(e).strip("'\"").splitlines()[0]
    sys.exit(f"error: bad --config: {msg}")
  workdir = _WORKDIR.value or os.path.join("runs", config.variant)
  try:
    train.train_and_evaluate(config, workdir)
  except train.Interrupted as e:
    logging.error("%s", e)
    sys.exit(130)
  except KeyboardInterrupt:
    logging.error("interrupted before the first step; nothing to save")
    sys.exit(130)
  except (train.TrainingError, checkpoint.CheckpointMismatch, BankError, ValueError) as e:
    logging.error("%s", e)
    sys.exit(1)


if __name__ == "__main__":
  main(sys.argv)
