"""Files the commands write: an interrupted write never leaves half a file that reads as valid,
and an output directory that cannot be one is reported up front."""
import contextlib
import os


@contextlib.contextmanager
def atomic_write(path, mode="w", fsync=False):
  """`with atomic_write(path) as f:` writes into path + ".tmp" (same directory, so the rename is
  atomic), closes it (flushed; fsync'd to disk too if asked) and renames it over `path`. On any
  error the temp file is removed and `path` is left as it was."""
  path = os.fspath(path)
  tmp = path + ".tmp"
  try:
    with open(tmp, mode) as f:
      yield f
      if fsync:
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def dir_problem(path, label=None):
  """Why `path` cannot be an output directory (it exists and is not one), named as `label`
  (default: the path); None when it can be."""
  if os.path.exists(path) and not os.path.isdir(path):
    return f"{label or path}: exists and is not a directory"
  return None
