"""`python -m drzjax.evaluate --workdir --data=...`: diarize with a trained checkpoint, then score."""
import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from conftest import ROOT, harmonic_voice, subprocess_env
from drzjax import rttm


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "drzjax.evaluate", *args], cwd=ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=300)


def test_synthetic(tiny_run, tmp_path):
  out = tmp_path / "scores.json"
  r = _cli(f"--workdir={tiny_run}", "--data=synthetic", "--num=6", "--batch=4",
           "--interrupt-max=1.0", f"--json={out}", f"--hyp-out={tmp_path / 'hyp'}")
  assert r.returncode == 0, r.stderr
  assert "OVERALL" in r.stdout and "interrupt_max 1.00" in r.stderr
  res = json.loads(out.read_text())
  assert sorted(res["files"]) == [f"mix{i:04d}" for i in range(6)]
  o = res["overall"]
  assert o["total"] > 0
  # DER components add up (whatever this barely trained model predicts).
  assert abs(o["der"] - (o["false_alarm"] + o["missed"] + o["confusion"]) / o["total"]) < 1e-9
  assert len(os.listdir(tmp_path / "hyp")) == 6


def test_folder_of_wavs(tiny_run, tmp_path):
  rng = np.random.default_rng(0)
  data = tmp_path / "data"
  data.mkdir()
  for uri in ("one", "two"):
    wave = np.zeros(12 * 16000, np.float32)
    segs = [(1.0, 4.0, "x"), (5.0, 9.0, "y")]
    for (s, e, _), f0 in zip(segs, (110, 210)):
      wave[int(s * 16000):int(e * 16000)] = harmonic_voice(rng, f0, int((e - s) * 16000))
    sf.write(data / f"{uri}.wav", wave, 16000)
    rttm.write_rttm(str(data / f"{uri}.rttm"), uri, segs)
  (data / "one.uem").write_text("one 1 0.0 10.0\n")
  r = _cli(f"--workdir={tiny_run}", f"--data={data}", "--collar=0.25", "--baseline",
           f"--json={tmp_path / 's.json'}")
  assert r.returncode == 0, r.stderr
  res = json.loads((tmp_path / "s.json").read_text())
  assert sorted(res["files"]) == ["one", "two"]
  # The one-label baseline on the same recordings: x's 2.5 scored s of each file's 6 are
  # given y's label.
  assert abs(res["baseline"]["der"] - 2.5 / 6) < 1e-6 and "baseline (oracle" in r.stderr
  # 7 s of speech; each of the 4 boundaries loses the 0.25 s of its collar inside the speech.
  assert abs(res["files"]["two"]["total"] - (7.0 - 4 * 0.25)) < 1e-6
  # A malformed reference: file and line named, exit 2, no traceback.
  (data / "two.rttm").write_text("SPEAKER two 1 0.5 oops <NA> <NA> x <NA> <NA>\n")
  r = _cli(f"--workdir={tiny_run}", f"--data={data}")
  assert r.returncode == 2 and "Traceback" not in r.stderr
  assert "two.rttm:1" in r.stderr


def test_folder_with_an_unreadable_wav_scores_the_rest(tiny_run, tmp_path):
  rng = np.random.default_rng(1)
  data = tmp_path / "data"
  data.mkdir()
  segs = [(1.0, 3.0, "x")]
  wave = np.zeros(5 * 16000, np.float32)
  wave[16000:3 * 16000] = harmonic_voice(rng, 120, 2 * 16000)
  sf.write(data / "good.wav", wave, 16000)
  rttm.write_rttm(str(data / "good.rttm"), "good", segs)
  (data / "bad.wav").write_text("not audio")
  rttm.write_rttm(str(data / "bad.rttm"), "bad", segs)
  r = _cli(f"--workdir={tiny_run}", f"--data={data}", f"--json={tmp_path / 's.json'}",
           f"--hyp-out={tmp_path / 'hyp'}")
  assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
  assert "bad.wav" in r.stderr and "OVERALL" in r.stdout
  assert list(json.loads((tmp_path / "s.json").read_text())["files"]) == ["good"]
  assert os.listdir(tmp_path / "hyp") == ["good.rttm"]
  # --json naming a directory is refused before anything runs.
  r = _cli(f"--workdir={tiny_run}", f"--data={data}", f"--json={tmp_path}")
  assert r.returncode == 2 and "is a directory" in r.stderr


def test_long_meetings_report_the_speaker_count_error(tiny_run, small_bank, tmp_path):
  """--secs with --mix-speakers above the run's data.num_speakers (tiny: 2): meetings of exactly
  that many voices; the JSON carries each file's found - true speaker count, and the summary
  agrees with it."""
  out = tmp_path / "scores.json"
  r = _cli(f"--workdir={tiny_run}", "--data=synthetic", "--secs=45", "--mix-speakers=4",
           "--num=2", f"--bank={small_bank}", "--split=all", "--linking=embeddings",
           f"--json={out}", f"--hyp-out={tmp_path / 'hyp'}")
  assert r.returncode == 0, r.stderr
  assert "speaker count (found - true)" in r.stderr
  res = json.loads(out.read_text())
  errors = [f["speaker_count_error"] for f in res["files"].values()]
  assert len(errors) == 2
  for uri, f in res["files"].items():
    found = {w for _, _, w in rttm.read_rttm(tmp_path / "hyp" / f"{uri}.rttm").get(uri, [])}
    assert f["speaker_count_error"] == len(found) - 4
  assert res["overall"]["speaker_count_abs_error"] == np.mean(np.abs(errors))
  assert res["overall"]["speaker_count_within_1"] == np.mean(np.abs(errors) <= 1)
