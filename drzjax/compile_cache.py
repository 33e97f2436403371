"""JAX's persistent compilation cache for the commands that compile the same programs on every
run (`diarize`, `evaluate`): a second run on the same machine loads them from disk instead of
compiling them again.

The directory is $JAX_COMPILATION_CACHE_DIR when set (JAX's own variable), else
~/.cache/drzjax/jax. Every program is kept, however quick its compilation was.
"""
import logging
import os

DEFAULT_DIR = os.path.join("~", ".cache", "drzjax", "jax")


def enable(path=None):
  """Turn the cache on; -> its directory, or None when it cannot be created (nothing cached)."""
  import jax  # noqa: PLC0415
  path = os.path.expanduser(path or os.environ.get("JAX_COMPILATION_CACHE_DIR") or DEFAULT_DIR)
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    logging.warning("compilation cache off: %s (%s)", path, e.strerror or e)
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  return path
