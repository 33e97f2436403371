"""`python -m drzjax.evaluate` scoring mode: table, JSON, and exit 2 on bad input."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from drzjax import der
from drzjax import evaluate
from drzjax import rttm

ROOT = pathlib.Path(__file__).resolve().parents[1]

REFS = {"meeting": [(0.0, 4.0, "alice"), (3.5, 8.0, "bob"), (9.0, 12.0, "alice")],
        "call": [(0.5, 2.0, "carol"), (2.0, 5.0, "dave")],
        "quiet": []}
HYPS = {"meeting": [(0.2, 3.8, "s1"), (3.8, 8.4, "s2"), (9.0, 11.0, "s2")],
        "call": [(0.4, 5.0, "s1")],
        "quiet": []}


def run_cli(*args):
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  return subprocess.run([sys.executable, "-m", "drzjax.evaluate", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)


@pytest.fixture
def corpus(tmp_path):
  for kind, data in (("ref", REFS), ("hyp", HYPS)):
    (tmp_path / kind).mkdir()
    for uri, segs in data.items():
      rttm.write_rttm(tmp_path / kind / f"{uri}.rttm", uri, segs)
  (tmp_path / "all.uem").write_text("meeting 1 0 11.5\ncall 1 0 6\nquiet 1 0 3\n")
  return tmp_path


def test_cli_prints_table_and_writes_json(corpus):
  out = corpus / "scores.json"
  p = run_cli(f"--ref={corpus / 'ref'}", f"--hyp={corpus / 'hyp'}",
              f"--uem={corpus / 'all.uem'}", "--collar=0.25", "--skip-overlap", f"--json={out}")
  assert p.returncode == 0, p.stderr
  got = json.loads(out.read_text())
  want = der.score_corpus(REFS, HYPS, rttm.read_uem(corpus / "all.uem"), collar=0.25,
                          skip_overlap=True)
  assert set(got) == {"files", "overall"}
  assert set(got["files"]) == set(REFS)
  for uri in REFS:
    assert set(got["files"][uri]) == set(der.KEYS)
    assert got["files"][uri] == pytest.approx(want["files"][uri], abs=1e-9)
  assert got["overall"] == pytest.approx(want["overall"], abs=1e-9)
  lines = p.stdout.splitlines()
  assert lines[0].split() == ["File", "DER%", "FA%", "Miss%", "Conf%", "JER%", "Scored(s)"]
  rows = {line.split()[0]: line.split() for line in lines if line[:1].isalpha()}
  assert set(rows) == {"File", "meeting", "call", "quiet", "OVERALL"}
  o = want["overall"]
  assert rows["OVERALL"][1] == f"{100 * o['der']:.2f}"
  assert rows["OVERALL"][6] == f"{o['total']:.3f}"
  assert rows["quiet"][2:5] == ["-", "-", "-"]  # no scored reference speech: no percentages


def test_cli_malformed_rttm_exits_2_with_one_clean_line(corpus):
  bad = corpus / "ref" / "call.rttm"
  bad.write_text("SPEAKER call 1 0.5 1.5 <NA> <NA> carol <NA> <NA>\n"
                 "SPEAKER call 1 2.0 -3.0 <NA> <NA> dave <NA> <NA>\n")
  p = run_cli(f"--ref={corpus / 'ref'}", f"--hyp={corpus / 'hyp'}")
  assert p.returncode == 2
  assert p.stdout == ""
  assert "Traceback" not in p.stderr
  assert p.stderr.splitlines() == [
      f"error: {bad}:2: negative duration -3.0: "
      "'SPEAKER call 1 2.0 -3.0 <NA> <NA> dave <NA> <NA>'"]


def test_missing_and_bad_inputs_exit_2(corpus, capsys):
  ref, hyp = f"--ref={corpus / 'ref'}", f"--hyp={corpus / 'hyp'}"
  cases = [
      ([f"--ref={corpus / 'nope'}", hyp], f"error: {corpus / 'nope'}: no such file"),
      ([ref, hyp, f"--uem={corpus / 'ref'}"], "no *.uem files"),
      ([ref, hyp, f"--json={corpus / 'no' / 'dir.json'}"], "No such file or directory"),
  ]
  (corpus / "bad.uem").write_text("meeting 1 0\n")
  cases.append(([ref, hyp, f"--uem={corpus / 'bad.uem'}"],
                f"error: {corpus / 'bad.uem'}:1: expected 4 fields"))
  for argv, message in cases:
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err


def test_missing_hypothesis_is_scored_empty_with_a_warning(corpus, capsys):
  os.remove(corpus / "hyp" / "call.rttm")
  assert evaluate.main([f"--ref={corpus / 'ref'}", f"--hyp={corpus / 'hyp'}"]) == 0
  captured = capsys.readouterr()
  assert "no hypothesis for call" in captured.err
  call = [line.split() for line in captured.out.splitlines() if line.startswith("call ")][0]
  assert call[1] == "100.00" and call[3] == "100.00"  # DER and Miss


def test_usage_errors_and_help(capsys):
  with pytest.raises(SystemExit) as e:
    evaluate.main(["--help"])
  assert e.value.code == 0
  text = " ".join(capsys.readouterr().out.split())
  assert "md-eval convention: +/- S seconds" in text
  assert "pyannote.metrics' `collar` is the total width" in text
  assert "DiarizationErrorRate(collar=0.5)" in text
  for argv in (["--ref=x"], ["--ref=x", "--hyp=y", "--collar=-1"]):
    with pytest.raises(SystemExit) as e:
      evaluate.main(argv)
    assert e.value.code == 2
  capsys.readouterr()
  # The diarize-then-score mode needs a real run directory: a missing one is a clean exit 2.
  assert evaluate.main(["--workdir=no/such/run", "--data=synthetic"]) == 2
  assert "not a drzjax run directory" in capsys.readouterr().err
  with pytest.raises(SystemExit) as e:
    evaluate.main(["--workdir=runs/base"])  # --data missing
  assert e.value.code == 2


def test_score_paths_single_files(corpus):
  result = evaluate.score_paths(corpus / "ref" / "meeting.rttm", corpus / "hyp" / "meeting.rttm",
                                json_path=corpus / "m.json")
  assert set(result["files"]) == {"meeting"}
  assert json.loads((corpus / "m.json").read_text())["overall"] == pytest.approx(
      result["overall"])
  assert result["overall"] == pytest.approx(der.score_file(REFS["meeting"], HYPS["meeting"]))
