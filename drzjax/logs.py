"""One logging set-up for the commands: INFO to stderr, library chatter (absl, orbax, jax) at
WARNING. Training lines carry a clock; diarize/evaluate lines are bare messages."""
import logging
import sys


def setup(timestamps=False):
  fmt = "%(asctime)s %(levelname).1s %(message)s" if timestamps else "%(message)s"
  logging.basicConfig(level=logging.INFO, format=fmt, datefmt="%H:%M:%S", stream=sys.stderr,
                      force=True)
  for name in ("absl", "orbax", "jax._src"):
    logging.getLogger(name).setLevel(logging.WARNING)
