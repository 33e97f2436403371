"""The shipped model never invents speech (issue "Real ears", item 3): silence, a noise floor and
pink noise decode to nothing; speech that starts at 18 s of 30 s gets nothing before it; one
real voice for 20 s gets one label. The real voices are tests/data/librispeech (CC BY 4.0)."""
import glob
import os

import numpy as np
import pytest
import soundfile as sf

from drzjax import diarize

SR = 16000
HERE = os.path.dirname(os.path.abspath(__file__))


def utterances(speaker):
  files = sorted(glob.glob(os.path.join(HERE, "data", "librispeech", speaker, "*", "*.flac")))
  return [sf.read(f, dtype="float32")[0] for f in files]


def at_dbfs(x, db):
  return (x / np.sqrt(np.mean(x.astype(np.float64) ** 2)) * 10 ** (db / 20)).astype(np.float32)


def pink(n, rng):
  spec = np.fft.rfft(rng.standard_normal(n))
  spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1.0))
  return np.fft.irfft(spec, n)


def probes():
  """name -> (waveform, what must hold)."""
  rng = np.random.default_rng(0)
  floor = lambda n: at_dbfs(rng.standard_normal(n), -70)  # noqa: E731
  gap = np.zeros(int(0.4 * SR), np.float32)
  one = utterances("1688")
  solo = np.concatenate([u for _ in range(3) for u in (one[0], gap, one[1], gap)])[:20 * SR]
  a, b = utterances("2033"), utterances("367")
  talk = np.concatenate([a[0], gap, b[0], gap, a[1]])[:12 * SR]
  late = np.concatenate([np.zeros(18 * SR, np.float32), talk])
  late = late + floor(len(late))
  return {
      "silence": np.zeros(10 * SR, np.float32),
      "floor_-70dBFS": floor(10 * SR),
      "pink_-45dBFS": at_dbfs(pink(10 * SR, rng), -45),
      "speech_from_18s": late,
      "one_voice_20s": solo + floor(len(solo)),
  }


@pytest.fixture(scope="module")
def outputs():
  d = diarize.Diarizer.pretrained()
  return {name: d(x).segments for name, x in probes().items()}


@pytest.mark.parametrize("name", ["silence", "floor_-70dBFS", "pink_-45dBFS"])
def test_no_speech_decodes_to_nothing(outputs, name):
  assert outputs[name] == [], outputs[name]


def test_nothing_before_speech_starts(outputs):
  segs = outputs["speech_from_18s"]
  assert segs, "the speech after 18 s was missed"
  assert min(s for s, _, _ in segs) >= 17.5, segs


def test_one_voice_gets_one_label(outputs):
  segs = outputs["one_voice_20s"]
  assert segs and len({w for _, _, w in segs}) == 1, segs
  assert sum(e - s for s, e, _ in segs) > 10.0, segs  # the voice is found, not dropped
