"""files: atomic_write (the file appears whole or not at all) and dir_problem."""
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


def test_dir_problem_only_for_a_path_that_is_not_a_directory(tmp_path):
  assert files.dir_problem(tmp_path) is None
  assert files.dir_problem(tmp_path / "new") is None  # to be made
  (tmp_path / "f").write_text("x")
  assert files.dir_problem(tmp_path / "f") == f"{tmp_path / 'f'}: exists and is not a directory"
  assert files.dir_problem(tmp_path / "f", "--out f") == "--out f: exists and is not a directory"
