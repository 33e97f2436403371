"""drzjax/data/neural_vad.py: speech regions from the segmentation network, on real recordings.

Bounds are set below what was measured (CPU, float32), with the measurements beside them.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from drzjax.data import speaker_bank as bank_lib
from drzjax.data import build
from drzjax.data import neural_vad as nv
from drzjax.data import vad
from drzjax.nets import segmentation as seg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
AMI = os.path.join(DATA, "ami", "trn00_5-15s")
LIBRI = os.path.join(DATA, "librispeech")
SR = 16000


def read(path):
  wave, sr = soundfile.read(path, dtype="float32")
  assert sr == SR
  return wave


def mask(regions, n):
  m = np.zeros(n, bool)
  for a, b in regions:
    m[a:b] = True
  return m


def test_window_grid():
  assert nv.HOP % seg.FRAME_STEP == 0 and nv.WINDOW_FRAMES == 589
  assert list(nv.window_starts(5 * SR)) == [0]
  starts = nv.window_starts(30 * SR)
  assert starts[0] == 0 and np.all(starts % seg.FRAME_STEP == 0)
  assert np.all(np.diff(starts) <= nv.HOP)  # windows overlap: every frame is seen
  assert 0 <= 30 * SR - (starts[-1] + nv.WINDOW) < seg.FRAME_STEP  # the last is flush with the end


def test_regions_from_probability():
  p = np.zeros(200, np.float32)
  p[50:60] = 0.4    # above offset only: no region
  p[100:140] = 0.4
  p[110:120] = 0.9  # ... unless it holds a frame above onset: then all of it
  r = nv.regions_from_probability(p, 200 * seg.FRAME_STEP + 721, pad=0, min_gap=0,
                                  min_speech=0)
  np.testing.assert_array_equal(r, [[100 * 270 + 360, 140 * 270 + 360]])
  p[:5] = p[-5:] = 0.9  # runs at the ends reach the ends of the file
  r = nv.regions_from_probability(p, 54721, pad=0, min_gap=0, min_speech=0)
  assert r[0, 0] == 0 and r[-1, 1] == 54721
  assert nv.regions_from_probability(np.zeros(0), 500).shape == (0, 2)


def test_ami_speech_where_the_rttm_says():
  """Measured: 97.3 % of the 10 s agree with the reference speech (energy detector: 78.9 %,
  which also takes a cough or noise at 2.9-3.5 s for speech)."""
  wave = read(AMI + ".flac")
  ref = np.zeros(len(wave), bool)
  with open(AMI + ".rttm", encoding="utf-8") as f:
    for line in f:
      start, dur = map(float, line.split()[3:5])
      ref[int(start * SR):int((start + dur) * SR)] = True
  neural = (mask(nv.speech_regions(wave), len(wave)) == ref).mean()
  energy = (mask(vad.speech_regions(wave), len(wave)) == ref).mean()
  assert neural >= 0.95 and neural > energy + 0.1, (neural, energy)


@pytest.mark.parametrize("seconds", [3, 25])
def test_no_speech_in_silence_or_noise_floor(seconds):
  n = seconds * SR
  noise = np.random.default_rng(0).standard_normal(n) * 10 ** (-70 / 20)  # -70 dBFS RMS
  for wave in (np.zeros(n, np.float32), noise.astype(np.float32)):
    # Measured: P(speech) at most 0.007 (zeros), 0.10 (noise).
    assert nv.speech_probability(wave).max() < 0.25
    assert nv.speech_regions(wave).shape == (0, 2)
  assert nv.speech_regions(np.zeros(500, np.float32)).shape == (0, 2)  # shorter than a frame


def test_librispeech_utterance_is_speech():
  """Measured: one region 0.41-3.89 s of 4.30 s (81 %); the energy detector's 0.11-4.30 s also
  takes a click at 0.2 s and the trailing sound."""
  wave = read(os.path.join(LIBRI, "1688", "142285", "1688-142285-0005.flac"))
  r = nv.speech_regions(wave)
  assert len(r) == 1 and mask(r, len(wave)).mean() > 0.7


def test_long_file_is_batched_and_matches_windows():
  # 60 s: 13 windows in one batch of 16; the middle of a repeated utterance is found each time.
  wave = read(os.path.join(LIBRI, "367", "130732", "367-130732-0008.flac"))
  long = np.tile(np.concatenate([wave, np.zeros(SR, np.float32)]), 12)[:60 * SR]
  p = nv.speech_probability(long)
  assert p.shape == (seg.num_frames(len(long)),)
  r = nv.speech_regions(long)
  assert 10 <= len(r) <= 13
  period = len(wave) + SR
  for k in range(1, 11):  # every repetition's middle is speech
    assert mask(r, len(long))[k * period + len(wave) // 2]


def test_bank_cli_with_segmentation(tmp_path):
  assert build.VADS["segmentation"] == nv.NAME  # build names it without importing jax
  energy = build.build_corpus(LIBRI, "librispeech", str(tmp_path / "energy"), log=lambda m: None)
  out = str(tmp_path / "neural")
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "build", f"--source={LIBRI}",
                      "--layout=librispeech", "--vad=segmentation", f"--out={out}"], cwd=ROOT,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr
  a, b = bank_lib.open_bank(energy), bank_lib.open_bank(out)
  assert (a.manifest["vad"], b.manifest["vad"]) == (build.VAD_NAME, nv.NAME)
  assert [u.file for u in a.utterances] == [u.file for u in b.utterances]
  for u in b.utterances:  # the regions are the detector's on the file (before int16)
    np.testing.assert_array_equal(u.regions, nv.speech_regions(read(os.path.join(LIBRI, u.file))))
  # Where the energy detector takes the click before the first word and the trailing sound
  # (measured 0.11-4.30 s), the network starts at the word and stops before the end (0.41-3.89).
  key = "1688/142285/1688-142285-0005.flac"
  ea = next(u.regions for u in a.utterances if u.file == key) / SR
  nb = next(u.regions for u in b.utterances if u.file == key) / SR
  assert ea[0, 0] < 0.2 and nb[0, 0] > 0.3 and ea[-1, 1] > 4.25 and nb[-1, 1] < 4.0
  info = subprocess.run([sys.executable, "-m", "drzjax.bank", "info", out], cwd=ROOT,
                        capture_output=True, text=True, timeout=60)
  assert f"vad {nv.NAME}" in info.stdout
  # The same source with the other detector is another bank: refused, not overwritten.
  with pytest.raises(bank_lib.BankError, match="already holds a bank"):
    build.build_corpus(LIBRI, "librispeech", out, log=lambda m: None)
  # TTS banks have no --vad.
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "build", "--source=tts",
                      "--vad=segmentation", f"--out={tmp_path / 't'}"], cwd=ROOT,
                     capture_output=True, text=True, timeout=60)
  assert r.returncode == 1 and "--vad is for corpus builds" in r.stderr


def test_progress_header_from_before_vad_resumes(tmp_path):
  """An unfinished energy build whose progress.jsonl predates the header's "vad" resumes."""
  out = tmp_path / "bank"
  out.mkdir()
  header = {"source": os.path.abspath(LIBRI), "layout": "librispeech", "params": {},
            "sample_rate": SR}
  (out / build.PROGRESS).write_text(json.dumps(header) + "\n")
  build.build_corpus(LIBRI, "librispeech", str(out), log=lambda m: None)
  assert bank_lib.open_bank(str(out)).manifest["vad"] == build.VAD_NAME


@pytest.mark.parametrize("seconds,piece", [(38.0, 10.0), (38.0, 3.3), (7.98, 10.0), (3.0, 0.7),
                                            (0.02, 0.01)])
def test_stream_gives_the_whole_file_probabilities(seconds, piece):
  """neural_vad.Stream, fed a real recording piece by piece, runs the same windows as
  speech_probability on the whole file: lengths around one window (7.98 s + the edge padding is
  just under 10 s), pieces shorter and longer than the 5 s hop, and a file too short for a frame."""
  import glob  # noqa: PLC0415
  files = sorted(glob.glob(os.path.join(LIBRI, "*", "*", "*.flac"))) + [AMI + ".flac"]
  x = np.concatenate([read(f) for f in files])[:int(seconds * SR)]
  st = nv.Stream()
  step = int(piece * SR)
  for i in range(0, len(x), step):
    st.add(x[i:i + step])
  got, want = st.finish(), nv.speech_probability(x)
  assert got.shape == want.shape
  assert np.allclose(got, want, atol=1e-5)
