"""files.atomic_write: the file appears whole or not at all."""
import pytest

from drzjax import files


def test_atomic_write_whole_or_nothing(tmp_path):
  path = tmp_path / "x.json"
  with files.atomic_write(path) as f:
    f.write("old")
  assert path.read_text() == "old"
  with pytest.raises(RuntimeError):
    with files.atomic_write(path) as f:
      f.write("new, half written")
      raise RuntimeError("killed mid-write")
  assert path.read_text() == "old"                       # the previous version survives
  assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temp file left
  with files.atomic_write(path, "wb", fsync=True) as f:
    f.write(b"new")
  assert path.read_bytes() == b"new"
