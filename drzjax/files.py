"""Writing a file so that an interrupted write never leaves half a file that reads as valid."""
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
