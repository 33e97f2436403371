"""The embedded default voices: deterministic, really different from each other, bank-ready."""
import os
import subprocess
import sys

import numpy as np

from drzjax.data import build
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import timbre
from drzjax.data import tts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_voices_are_deterministic_and_varied():
  voices = [tts.voice(0, s) for s in range(240)]
  assert voices == [tts.voice(0, s) for s in range(240)]
  assert voices != [tts.voice(1, s) for s in range(240)]
  assert len({(v["language"], v["variant"]) for v in voices}) > 200
  assert len({v["language"] for v in voices}) > 30 and len({v["variant"] for v in voices}) > 60
  for v in voices:
    assert 0 <= v["pitch"] <= 100 and 0 <= v["range"] <= 100 and 80 <= v["rate"] <= 450
    assert 0.85 < v["formant"] < 1.2


def test_text_is_deterministic_and_varied():
  a = [tts.utterance_text(0, s, u) for s in range(20) for u in range(3)]
  assert a == [tts.utterance_text(0, s, u) for s in range(20) for u in range(3)]
  assert len(set(a)) == len(a)
  assert all(t.strip() and t.isascii() for t in a)


def test_synthesize():
  v = tts.voice(0, 7)
  text, x = tts.speak_utterance(0, 7, 0, v)
  assert x.dtype == np.float32 and x.ndim == 1
  assert 0.5 * 16000 < len(x) < 30 * 16000
  assert abs(np.abs(x).max() - v["gain"]) < 1e-3
  assert np.all(x[:int(0.04 * 16000)] == 0)           # starts (and ends) with silence
  np.testing.assert_array_equal(tts.speak_utterance(0, 7, 0, v)[1], x)  # deterministic
  # The formant shift changes the sound, not only the length: same text, other shift.
  y = tts.synthesize(text, dict(v, formant=v["formant"] * 1.1))
  assert abs(len(y) / len(tts.synthesize(text, v)) - 1 / 1.1) < 0.02


def test_voices_are_distinguishable():
  """Each utterance's spectral fingerprint is nearer its own speaker's other utterances than
  any other speaker's (leave-one-out nearest centroid), and speakers lie far apart compared
  to how much one speaker varies across texts."""
  S, U = 10, 3
  f = np.array([[timbre.fingerprint(tts.speak_utterance(0, s, u)[1]) for u in range(U)]
                for s in range(S)])
  accuracy, spread = timbre.distinctness(f)
  assert accuracy >= 0.8, accuracy  # chance is 10%
  assert spread > 2, spread


def test_tts_bank(tmp_path):
  out = build.build_tts(str(tmp_path / "tb"), speakers=6, utterances=2, val_fraction=0.2,
                      test_fraction=0.2, seed=0)
  b = bank_lib.open_bank(out)
  assert sorted(b.by_speaker) == [tts.speaker_name(s) for s in range(6)]
  assert len(b.utterances) == 12 and b.manifest["params"] == {
      "speakers": 6, "utterances": 2, "seed": 0}
  sets = [set(b.speakers(s)) for s in bank_lib.SPLITS]
  assert all(sets) and sum(map(len, sets)) == 6 and len(set.union(*sets)) == 6
  speech = 0
  for u in b.utterances:
    r = u.regions
    assert len(r) >= 1 and r.min() >= 0 and r.max() <= u.length
    assert np.all(r[1:, 0] > r[:-1, 1]) and np.all(r[:, 1] > r[:, 0])
    x = b.audio(u)
    assert np.abs(x[r[0, 0]:r[-1, 1]]).max() > 0.3   # the speech is where the regions say
    speech += (r[:, 1] - r[:, 0]).sum()
  assert 0.6 < speech / sum(u.length for u in b.utterances) < 0.99  # pauses are found
  # Rebuilt after other synthesis in this process: the same bytes (espeak's state is reset).
  again = build.build_tts(str(tmp_path / "tb2"), speakers=6, utterances=2, val_fraction=0.2,
                        test_fraction=0.2, seed=0)
  for name in ("audio.i16", "manifest.json"):
    with open(os.path.join(out, name), "rb") as f1, open(os.path.join(again, name), "rb") as f2:
      assert f1.read() == f2.read(), name


def test_tts_cli(tmp_path):
  out = str(tmp_path / "tb")
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "build", "--source=tts",
                      f"--out={out}", "--speakers=4", "--utterances=1"], cwd=ROOT,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr
  assert "built" in r.stderr and "4 speakers" in r.stderr
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "info", out], cwd=ROOT,
                     capture_output=True, text=True, timeout=60)
  assert r.returncode == 0 and "source tts" in r.stdout and "utterance length" in r.stdout
