"""drzjax/nets/segmentation.py: the Flax port of pyannote segmentation-3.0 against pyannote itself.

The reference outputs (tests/data/nets/segmentation_ref.npz) come from pyannote.audio 4.0.7's own
PyanNet with the original checkpoint (tests/data/nets/make_segmentation_fixtures.py); here only
JAX runs. Tolerances are a few times what was measured on CPU (float32):
  log-probabilities: max abs error 2.1e-5 (AMI 10 s), 6e-6 (LibriSpeech 4.3 s) -> 1e-4
  128-d hidden features (values up to ~9.5): max abs error 1.8e-5 -> 2e-4
  hard powerset class: 100 % of frames agree -> at least 99.5 % (room for a near-tie flip)
"""
import itertools
import os

import jax
import numpy as np
import pytest
import soundfile

from drzjax.nets import convert
from drzjax.nets import segmentation as seg

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
AMI = os.path.join(DATA, "ami", "trn00_5-15s")
LIBRI = os.path.join(DATA, "librispeech", "1688", "142285", "1688-142285-0005.flac")
LOGP_ATOL = 1e-4
HIDDEN_ATOL = 2e-4
ARGMAX_AGREE = 0.995


def read(path):
  wave, sr = soundfile.read(path, dtype="float32")
  assert sr == seg.SAMPLE_RATE
  return wave


@pytest.fixture(scope="module")
def params():
  return seg.load()


@pytest.fixture(scope="module")
def ref():
  with np.load(os.path.join(DATA, "nets", "segmentation_ref.npz")) as z:
    return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def ami_logp(params):
  return np.asarray(seg.apply(params, read(AMI + ".flac")[None]))


def rttm_frames(path, centres):
  """{speaker: bool per frame}: frame centres inside the speaker's turns."""
  out = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      fields = line.split()
      start, end = float(fields[3]), float(fields[3]) + float(fields[4])
      on = (centres >= start) & (centres < end)
      out[fields[7]] = out.get(fields[7], np.zeros(len(centres), bool)) | on
  return out


def test_ami_matches_pyannote(params, ref, ami_logp):
  assert ami_logp.shape == ref["ami_logp"].shape == (1, 589, 7)
  np.testing.assert_allclose(ami_logp, ref["ami_logp"], rtol=0, atol=LOGP_ATOL)
  agree = (ami_logp.argmax(-1) == ref["ami_logp"].argmax(-1)).mean()
  assert agree >= ARGMAX_AGREE
  hidden = np.asarray(seg.features(params, read(AMI + ".flac")[None]))
  assert hidden.shape == (1, 589, seg.HIDDEN)
  np.testing.assert_allclose(hidden[:, ::4], ref["ami_hidden4"], rtol=0, atol=HIDDEN_ATOL)


def test_librispeech_matches_pyannote(params, ref):
  logp = np.asarray(seg.apply(params, read(LIBRI)[None]))
  np.testing.assert_allclose(logp, ref["libri_logp"], rtol=0, atol=LOGP_ATOL)
  assert (logp.argmax(-1) == ref["libri_logp"].argmax(-1)).mean() >= ARGMAX_AGREE


def test_batch_equals_single(params, ami_logp):
  ami = read(AMI + ".flac")
  libri = read(LIBRI)
  other = np.tile(libri, 3)[:len(ami)]
  both = np.asarray(seg.apply(params, np.stack([other, ami])))
  np.testing.assert_allclose(both[1:], ami_logp, rtol=0, atol=1e-5)


def test_frame_geometry(ref):
  size, step, centre0 = ref["geometry"]  # pyannote's receptive field of the reference model
  assert (seg.RECEPTIVE_FIELD, seg.FRAME_STEP) == (size, step)
  assert seg.frame_centers(3) == pytest.approx(
      (centre0 + step * np.arange(3)) / seg.SAMPLE_RATE)
  assert [seg.num_frames(n) for n in ref["lengths"]] == list(ref["frames"])
  assert seg.num_frames(990) == 0 and seg.num_frames(0) == 0


@pytest.mark.parametrize("n", [991, 1261, 8000, 31999])
def test_output_length(params, n):
  wave = np.random.default_rng(n).standard_normal((1, n)).astype(np.float32) * 0.1
  assert seg.apply(params, wave).shape == (1, seg.num_frames(n), seg.NUM_CLASSES)


def test_log_probabilities(ami_logp):
  np.testing.assert_allclose(np.exp(ami_logp).sum(-1), 1.0, atol=1e-5)


def test_no_speech_in_silence_or_noise_floor(params):
  n = 10 * seg.SAMPLE_RATE
  noise = np.random.default_rng(0).standard_normal(n) * 10 ** (-70 / 20)  # -70 dBFS RMS
  waves = np.stack([np.zeros(n), noise]).astype(np.float32)
  active = np.asarray(seg.powerset_to_multilabel(seg.apply(params, waves)))
  assert active.sum() == 0  # measured: no frame; P(speech) at most 0.015 (zeros), 0.10 (noise)


def test_ami_speech_where_the_rttm_says(ami_logp):
  """Any-speaker activity against the reference turns, frame by frame (by frame centre).
  Measured: 97.3 % of frames agree (speech 51 % / 50 % of frames), 96.7 % of speech found, and
  the best speaker mapping agrees on 91.2 % of speaker-frames."""
  active = np.asarray(seg.powerset_to_multilabel(ami_logp))[0].astype(bool)
  turns = rttm_frames(AMI + ".rttm", seg.frame_centers(active.shape[0]))
  speech = np.any(list(turns.values()), axis=0)
  assert 0.4 < speech.mean() < 0.6
  assert (active.any(-1) == speech).mean() > 0.95
  assert (active.any(-1) & speech).sum() / speech.sum() > 0.93
  # The two reference speakers land on two distinct local speakers.
  best = max((np.mean([(active[:, k] == on).mean() for k, on in zip(p, turns.values())]), p)
             for p in itertools.permutations(range(seg.NUM_SPEAKERS), len(turns)))
  assert best[0] > 0.85


def test_powerset_to_multilabel():
  # pyannote's order: {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}
  sets = [set(), {0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}]
  assert [set(np.flatnonzero(row)) for row in seg.MAPPING] == sets
  logp = jax.nn.log_softmax(np.random.default_rng(0).standard_normal((2, 5, 7)) * 3)
  hard = np.asarray(seg.powerset_to_multilabel(logp))
  np.testing.assert_array_equal(hard, seg.MAPPING[np.asarray(logp).argmax(-1)])
  soft = np.asarray(seg.powerset_to_multilabel(logp, soft=True))
  np.testing.assert_allclose(soft, np.exp(logp) @ seg.MAPPING, atol=1e-6)
  assert soft.shape == (2, 5, 3) and soft.min() >= 0 and soft.max() <= 1 + 1e-6


@pytest.mark.parametrize("damage", ["missing", "corrupt", "wrong_shape"])
def test_bad_weights_file_one_line_error(tmp_path, monkeypatch, damage):
  monkeypatch.setattr(convert, "PRETRAINED", str(tmp_path))
  path = tmp_path / "segmentation" / "params.npz"
  path.parent.mkdir()
  if damage == "corrupt":
    path.write_bytes(b"PK\x03\x04 not really a zip")
  elif damage == "wrong_shape":
    flat = {k: np.zeros(s, np.float32) for k, s in seg.expected_shapes().items()}
    flat["classifier/bias"] = np.zeros(8, np.float32)
    np.savez(path, **flat)
  with pytest.raises((FileNotFoundError, ValueError)) as e:
    seg.load()
  msg = str(e.value)
  assert "\n" not in msg and str(path) in msg and "python -m drzjax.nets.convert" in msg
