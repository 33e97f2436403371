"""RTTM/UEM reading and writing: round trips, silence, and file:line errors on bad lines."""
import io

import numpy as np
import pytest

from drzjax import rttm


def random_segments(rng, n=30):
  names = ["spk_a", "B", "3", "x-ray.7"]
  segs = []
  for _ in range(n):
    s = round(float(rng.uniform(0, 100)), 3)
    segs.append((s, round(s + float(rng.uniform(0.001, 5)), 3), str(rng.choice(names))))
  return segs


def test_rttm_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  segs = {"rec1": random_segments(rng), "rec-2": random_segments(rng)}
  for uri, s in segs.items():
    rttm.write_rttm(tmp_path / f"{uri}.rttm", uri, s)
  got = rttm.collect_rttm(tmp_path)
  assert set(got) == set(segs)
  for uri, s in segs.items():
    # Written sorted by (start, end, speaker); times survive to the millisecond.
    assert [x[2] for x in got[uri]] == [x[2] for x in sorted(s)]
    np.testing.assert_allclose([x[:2] for x in got[uri]], [x[:2] for x in sorted(s)],
                               atol=1e-9)
  # One file holding one uri reads the same way.
  assert rttm.read_rttm(tmp_path / "rec1.rttm") == {"rec1": got["rec1"]}


def test_rttm_format_is_ten_fields_three_decimals():
  f = io.StringIO()
  rttm.write_rttm(f, "meet", [(2.0, 3.5, "B"), (0.12345, 1.0, "A"), (1.0, 1.0001, "A")])
  assert f.getvalue() == ("SPEAKER meet 1 0.123 0.877 <NA> <NA> A <NA> <NA>\n"
                          "SPEAKER meet 1 2.000 1.500 <NA> <NA> B <NA> <NA>\n")


def test_silence_is_an_empty_file_that_reads_back_as_its_uri(tmp_path):
  rttm.write_rttm(tmp_path / "quiet.rttm", "quiet", [])
  assert (tmp_path / "quiet.rttm").read_text() == ""
  assert rttm.read_rttm(tmp_path / "quiet.rttm") == {}
  assert rttm.collect_rttm(tmp_path) == {"quiet": []}
  assert rttm.collect_rttm(tmp_path / "quiet.rttm") == {"quiet": []}


def test_write_rejects_names_that_would_break_the_format(tmp_path):
  with pytest.raises(ValueError, match="whitespace"):
    rttm.write_rttm(tmp_path / "a.rttm", "a", [(0, 1, "two words")])
  with pytest.raises(ValueError, match="whitespace"):
    rttm.write_rttm(tmp_path / "a.rttm", "a b", [(0, 1, "x")])
  with pytest.raises(ValueError, match="bad segment"):
    rttm.write_rttm(tmp_path / "a.rttm", "a", [(2, 1, "x")])
  assert not (tmp_path / "a.rttm").exists()


def test_comments_blank_lines_and_other_record_types(tmp_path):
  p = tmp_path / "c.rttm"
  p.write_text(";; a comment\n\n"
               "SPKR-INFO c 1 <NA> <NA> <NA> unknown alice <NA> <NA>\n"
               "SPEAKER c 1 1.5 2 <NA> <NA> alice <NA> <NA>\n"
               "  SPEAKER   d 1 0 0.25 <NA> <NA> bob <NA> <NA>  \n")
  assert rttm.read_rttm(p) == {"c": [(1.5, 3.5, "alice")], "d": [(0.0, 0.25, "bob")]}


@pytest.mark.parametrize("line,problem", [
    ("SPEAKER a 1 0.0 1.0 <NA> <NA> alice <NA>", "expected 10 fields, got 9"),
    ("SPEAKER a 1 zero 1.0 <NA> <NA> alice <NA> <NA>", "non-numeric onset 'zero'"),
    ("SPEAKER a 1 0.0 1,5 <NA> <NA> alice <NA> <NA>", "non-numeric duration '1,5'"),
    ("SPEAKER a 1 0.0 nan <NA> <NA> alice <NA> <NA>", "non-numeric duration 'nan'"),
    ("SPEAKER a 1 0.0 -1.0 <NA> <NA> alice <NA> <NA>", "negative duration -1.0"),
    ("SPEAKER a 1 -2 1.0 <NA> <NA> alice <NA> <NA>", "negative onset -2"),
    ("SPEEKER a 1 0.0 1.0 <NA> <NA> alice <NA> <NA>", "unknown RTTM record type 'SPEEKER'"),
])
def test_malformed_rttm_line_names_file_and_line(tmp_path, line, problem):
  p = tmp_path / "bad.rttm"
  p.write_text(";; header\nSPEAKER a 1 0.0 1.0 <NA> <NA> alice <NA> <NA>\n" + line + "\n")
  with pytest.raises(rttm.FormatError) as e:
    rttm.read_rttm(p)
  assert str(e.value) == f"{p}:3: {problem}: {line!r}"


def test_non_utf8_line_names_file_and_line(tmp_path):
  p = tmp_path / "bin.rttm"
  p.write_bytes(b"SPEAKER a 1 0 1 <NA> <NA> x <NA> <NA>\n\xff\xfe\n")
  with pytest.raises(rttm.FormatError, match=r"bin.rttm:2: not UTF-8"):
    rttm.read_rttm(p)


def test_uem_round_trip_and_errors(tmp_path):
  p = tmp_path / "all.uem"
  p.write_text(";; regions\nrec1 1 0.000 30.5\nrec1 1 40 50\n\nrec2 1 1.25 9.75\n")
  want = {"rec1": [(0.0, 30.5), (40.0, 50.0)], "rec2": [(1.25, 9.75)]}
  assert rttm.read_uem(p) == want
  assert rttm.collect_uem(tmp_path) == want
  for line, problem in [("rec1 1 5", "expected 4 fields (uri chan start end), got 3"),
                        ("rec1 1 5 x", "non-numeric end 'x'"),
                        ("rec1 1 5 4", "negative duration (end 4 < start 5)")]:
    p.write_text("rec1 1 0 1\n" + line + "\n")
    with pytest.raises(rttm.FormatError) as e:
      rttm.read_uem(p)
    assert str(e.value) == f"{p}:2: {problem}: {line!r}"


def test_collect_merges_files_and_reports_missing_paths(tmp_path):
  (tmp_path / "one.rttm").write_text("SPEAKER a 1 0 1 <NA> <NA> x <NA> <NA>\n")
  (tmp_path / "two.rttm").write_text("SPEAKER a 1 2 1 <NA> <NA> y <NA> <NA>\n"
                                     "SPEAKER b 1 0 1 <NA> <NA> z <NA> <NA>\n")
  (tmp_path / "notes.txt").write_text("not an rttm\n")
  assert rttm.collect_rttm(tmp_path) == {"a": [(0.0, 1.0, "x"), (2.0, 3.0, "y")],
                                         "b": [(0.0, 1.0, "z")]}
  with pytest.raises(FileNotFoundError, match="no such file"):
    rttm.collect_rttm(tmp_path / "missing")
  with pytest.raises(FileNotFoundError, match=r"no \*.uem files"):
    rttm.collect_uem(tmp_path)


def test_absurd_times_and_binary_files_are_short_clear_errors(tmp_path):
  huge = tmp_path / "huge.rttm"
  huge.write_text("SPEAKER a 1 1e308 1.0 <NA> <NA> x <NA> <NA>\n")
  with pytest.raises(rttm.FormatError, match=r"huge.rttm:1: onset 1e308 is out of range"):
    rttm.read_rttm(huge)
  binary = tmp_path / "binary.rttm"
  binary.write_bytes(bytes(range(11, 256)) * 200)  # 49 KB without a newline
  with pytest.raises(rttm.FormatError) as e:
    rttm.read_rttm(binary)
  assert "binary.rttm:" in str(e.value) and len(str(e.value)) < 400
