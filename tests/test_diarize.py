"""diarize: the CLI end to end with a trained (tiny) checkpoint, and the long-audio chunking
logic with an oracle in place of the network.

The oracle decoder reads the audio itself: speech regions by VAD, speaker identity by the pitch
of the test voices (each test speaker is a harmonic tone at its own f0). It sees exactly what
the network would see (prompt clips + chunk audio + forced triplets), so the test checks that
the prompts really carry each known speaker's voice, that letters map back to the same speaker
across chunks, and that times and boundary joins are right.
"""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, harmonic_voice, subprocess_env
from drzjax import der
from drzjax import diarize
from drzjax import model as model_lib
from drzjax import rttm
from drzjax import tokens
from drzjax.data import vad

SR = 16000
F0S = {"p": 100.0, "q": 150.0, "r": 220.0}


def conversation(rng, secs=60.0, overlap=False):
  """A 3-speaker conversation with known turns -> (wave, [(start, end, speaker)])."""
  wave = np.zeros(int(secs * SR), np.float32)
  segs, t, prev = [], 0.5, None
  while t < secs - 3:
    who = rng.choice([w for w in F0S if w != prev])
    dur = rng.uniform(1.0, 3.0)
    a = int(t * SR)
    x = harmonic_voice(rng, F0S[who], int(dur * SR))
    wave[a:a + len(x)] += x
    segs.append((t, t + dur, who))
    prev = who
    t += dur + (rng.uniform(-0.5, 0.3) if overlap else rng.uniform(0.7, 1.2))
  return wave, segs


def pitch(x):
  """f0 of a harmonic tone by autocorrelation (60-400 Hz)."""
  x = x[: SR // 2] - x[: SR // 2].mean()
  ac = np.correlate(x, x, "full")[len(x) - 1:]
  lo, hi = SR // 400, SR // 60
  return SR / (lo + int(np.argmax(ac[lo:hi])))


class OracleDiarizer(diarize.Diarizer):
  def _decode(self, wave, forced, num_speakers, min_speakers, max_speakers, beam):
    v = self.vocab
    f0s, out = [], []
    for i in range(0, len(forced), 3):  # prompt clips: whose voice is in each?
      s, e = v.time_of(forced[i]), v.time_of(forced[i + 1])
      f0s.append(pitch(wave[int(s * SR) + 400: int(e * SR) - 400]))
      out.append((float(s), float(e), i // 3))
    p_end = int(v.time_of(forced[-2]) * SR) + int(0.1 * SR) if len(forced) else 0
    for a, b in vad.speech_regions(wave[p_end:], SR) + p_end:
      f = pitch(wave[a:b])
      match = [k for k, g in enumerate(f0s) if abs(f / g - 1) < 0.08]
      if match:
        k = match[0]
      else:
        f0s.append(f)
        k = len(f0s) - 1
      # The network writes quantised times: so does the oracle.
      out.append((float(v.time_of(v.time_id(a / SR))), float(v.time_of(v.time_id(b / SR))), k))
    return sorted(out)


def oracle(max_secs=8.0):
  cfg = model_lib.ModelConfig(vocab_size=256, speaker_slots=4, max_secs=max_secs,
                              max_label_len=64, d_model=32, num_layers=1, num_heads=2)
  # The prompt mechanism alone: CAM++ cannot tell harmonic tones apart, and the segmentation
  # network's speech regions are not the oracle's.
  return OracleDiarizer(model_lib.DiarizationTransformer(cfg), None, None, linking="prompts",
                        fill=False)


def mapped_der(ref, hyp):
  return der.score_file(ref, hyp, collar=0.25)["der"]


def test_long_audio_keeps_speakers_across_chunks(tmp_path):
  rng = np.random.default_rng(0)
  wave, ref = conversation(rng, 60.0)
  path = str(tmp_path / "conv.wav")
  sf.write(path, wave, SR)
  d = oracle()
  r = d(path)
  assert r.uri == "conv" and abs(r.duration - 60.0) < 1e-6
  # 60 s in 8 s chunks with prompts: many chunks, yet still 3 speakers, named A, B, C.
  assert sorted({s[2] for s in r.segments}) == ["A", "B", "C"]
  assert mapped_der(ref, r.segments) < 0.05
  # Without identity-keeping prompts the letters would restart per chunk: check that a
  # prompt-less chunking (every chunk on its own) is much worse, so the test can tell.
  naive = []
  for c in range(0, len(wave), d.model.cfg.num_samples):
    part = d(wave[c:c + d.model.cfg.num_samples])
    naive += [(s + c / SR, e + c / SR, w) for s, e, w in part.segments]
  assert mapped_der(ref, naive) > 0.2


def test_boundary_cut_segments_are_joined():
  rng = np.random.default_rng(1)
  wave = np.zeros(int(20 * SR), np.float32)
  # One 4 s turn across the 8 s chunk boundary, others around it.
  turns = [(1.0, 3.0, "q"), (6.0, 10.0, "p"), (12.0, 14.0, "q"), (15.0, 18.0, "p")]
  for s, e, w in turns:
    x = harmonic_voice(rng, F0S[w], int((e - s) * SR))
    wave[int(s * SR): int(s * SR) + len(x)] = x
  r = oracle()(wave)
  crossing = [s for s in r.segments if s[0] < 8.0 < s[1]]
  assert len(crossing) == 1, r.segments
  assert mapped_der(turns, r.segments) < 0.05


def test_enrolled_speakers_carry_their_names(tmp_path):
  rng = np.random.default_rng(2)
  wave, ref = conversation(rng, 30.0)
  enroll = [("alice", harmonic_voice(rng, F0S["q"], 3 * SR)),
            ("bob", harmonic_voice(rng, F0S["r"], 3 * SR))]
  r = oracle()(wave, enroll=enroll)
  names = {s[2] for s in r.segments}
  assert {"alice", "bob"} <= names and len(names) == 3
  hyp_q = [s for s in r.segments if s[2] == "alice"]
  ref_q = [s for s in ref if s[2] == "q"]
  assert der.score_file([(s, e, "x") for s, e, _ in ref_q],
                        [(s, e, "x") for s, e, _ in hyp_q], collar=0.25)["der"] < 0.05


def test_silence_gives_no_segments():
  r = oracle()(np.zeros(20 * SR, np.float32))
  assert r.segments == [] and abs(r.duration - 20.0) < 1e-6


# ---- whatever the decoder writes, the output is valid segments inside the audio ----

def _assert_valid(segments, duration):
  for s, e, who in segments:
    assert np.isfinite(s) and np.isfinite(e) and 0.0 <= s < e <= duration, (s, e, who, duration)
  rttm.format_rttm("x", segments)  # what main writes: raises on a bad segment


def test_clip_segments_clips_both_ends_and_drops_empty():
  segs = [(6.08, 8.0, "B"),                  # issue 10: starts past the end of a 3 s file
          (-1.0, 2.0, "A"), (2.5, 9.0, "A"),  # cross an end: clipped there
          (1.0, 1.0, "C"), (2.0, 1.0, "C"),   # empty / reversed
          (float("nan"), 1.0, "D"), (0.5, float("inf"), "E")]
  assert diarize.clip_segments(segs, 3.0) == [(0.0, 2.0, "A"), (0.5, 3.0, "E"), (2.5, 3.0, "A")]
  assert diarize.clip_segments(segs, 0.0) == []


@pytest.mark.parametrize("vocab", [tokens.Vocab(128, 4, 8.0), tokens.Vocab(512, 8, 15.0)],
                         ids=["tiny", "base"])
def test_random_token_sequences_give_valid_segments(vocab):
  """Random ids (as an undertrained model may write), decoded and cleaned as `Diarizer` does."""
  gap = 2 * vocab.bin_secs
  late = max(2, vocab.first_speaker - vocab.num_times // 10)  # the last tenth of the time bins
  for seed in range(300):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    # Mostly grammatical triplets (so that many survive decoding), often at late times, plus
    # any id of the whole vocab anywhere.
    ids = np.where(np.arange(n) % 3 == 2,
                   rng.integers(vocab.first_speaker, vocab.size, n),
                   np.where(rng.random(n) < 0.5, rng.integers(late, vocab.first_speaker, n),
                            rng.integers(2, vocab.first_speaker, n)))
    ids = np.where(rng.random(n) < 0.1, rng.integers(0, vocab.size, n), ids)
    segs, _ = tokens.to_segments(ids, vocab)
    # Files shorter than a chunk and than a prompt, and longer; a chunk at an offset.
    duration = float(np.exp(rng.uniform(np.log(0.05), np.log(25.0))))
    t0 = float(rng.choice([0.0, rng.uniform(-vocab.max_secs, duration)]))
    segs = [(t0 + s, t0 + e, tokens.letter(k)) for s, e, k in segs]
    out = diarize._join(diarize.clip_segments(segs, duration), gap)
    _assert_valid(out, duration)
    assert out == sorted(out)


class GhostDiarizer(diarize.Diarizer):
  """A decoder that writes past the real audio, into the zero padding of a short last chunk."""

  def _decode(self, wave, forced, num_speakers, min_speakers, max_speakers, beam):
    k, p = len(forced) // 3, (self.vocab.time_of(forced[-2]) + 0.2 if len(forced) else 0.0)
    end, pad = len(wave) / SR, self.model.cfg.max_secs
    return [(p + 0.2, p + 1.0, k), (p + 1.5, pad, k),  # the second runs into the padding
            (end + 0.5, pad, k + 1)]                  # a speaker heard only in the padding


@pytest.mark.parametrize("secs", [3.0, 0.5, 10.0])
def test_segments_past_the_audio_are_clipped_per_chunk(secs):
  cfg = model_lib.ModelConfig(vocab_size=256, speaker_slots=4, max_secs=8.0,
                              max_label_len=64, d_model=32, num_layers=1, num_heads=2)
  wave = harmonic_voice(np.random.default_rng(5), 120.0, int(secs * SR))
  r = GhostDiarizer(model_lib.DiarizationTransformer(cfg), None, None, linking="prompts",
                    fill=False)(wave)
  assert abs(r.duration - secs) < 1e-6
  _assert_valid(r.segments, r.duration)
  assert {s[2] for s in r.segments} <= {"A", "B"}  # no one heard only in the padding
  if secs == 3.0:
    assert r.segments == [(0.2, 1.0, "A"), (1.5, 3.0, "A")]
  if secs == 10.0:  # the second chunk's turn ends at the end of the file, not 8 s after its start
    assert r.segments[-1][1] == pytest.approx(10.0)


# ---- the real model, through the CLI ----

def _cli(*args):
  return subprocess.run([sys.executable, "-m", "drzjax.diarize", *args], cwd=ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=300)


def _some_wav(tmp_path):
  """An input that passes the checks made before the model loads."""
  path = tmp_path / "x.wav"
  sf.write(path, harmonic_voice(np.random.default_rng(0), 120.0, SR), SR)
  return str(path)


def test_cli_two_minute_file_silence_and_bad_input(tiny_run, tmp_path):
  rng = np.random.default_rng(3)
  wave, _ = conversation(rng, 120.0)
  stereo = np.stack([wave, wave], axis=1)
  import librosa  # noqa: PLC0415
  long_path = tmp_path / "meeting.wav"
  sf.write(long_path, librosa.resample(stereo.T, orig_sr=SR, target_sr=44100).T, 44100)
  sf.write(tmp_path / "quiet.wav", np.zeros(5 * SR, np.float32), SR)
  sf.write(tmp_path / "phone.wav", librosa.resample(wave[:4 * SR], orig_sr=SR, target_sr=8000),
           8000)
  (tmp_path / "notes.wav").write_text("this is not audio")
  out = tmp_path / "out"
  r = _cli(f"--workdir={tiny_run}", str(long_path), str(tmp_path / "quiet.wav"),
           str(tmp_path / "phone.wav"), str(tmp_path / "notes.wav"), f"--out={out}", "--plot",
           "--max-speakers=3")
  assert r.returncode == 1, r.stderr
  assert "Traceback" not in r.stderr
  assert "notes.wav" in r.stderr and "resampled 44100->16000" in r.stderr
  # An 8 kHz file is diarized, with one warning that it is narrowband; the 44.1 kHz one is not.
  warned = [ln for ln in r.stderr.splitlines() if "narrowband input" in ln]
  assert len(warned) == 1 and "phone.wav" in warned[0] and "4000 Hz" in warned[0], r.stderr
  assert (out / "phone.rttm").exists()
  assert "RTF" in r.stderr
  segs = rttm.read_rttm(out / "meeting.rttm").get("meeting", [])
  assert all(0 <= s < e <= 120.0 + 1e-3 for s, e, _ in segs)
  assert os.path.getsize(out / "meeting.png") > 1000
  assert (out / "quiet.rttm").read_text() == ""
  assert not (out / "notes.rttm").exists()


def test_cli_short_file_and_a_failed_write_fail_only_that_file(tiny_run, tmp_path):
  rng = np.random.default_rng(6)
  for name in ("blocked", "short", "noplot"):
    sf.write(tmp_path / f"{name}.wav", harmonic_voice(rng, 130.0, 3 * SR), SR)
  out = tmp_path / "out"
  (out / "blocked.rttm").mkdir(parents=True)  # its RTTM cannot be written
  (out / "noplot.png").mkdir()                # its plot cannot be written
  r = _cli(f"--workdir={tiny_run}", *(str(tmp_path / f"{n}.wav")
                                      for n in ("blocked", "short", "noplot")),
           f"--out={out}", "--plot")
  assert r.returncode == 1, r.stderr
  assert "Traceback" not in r.stderr
  errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
  assert any("blocked.wav" in line for line in errors), r.stderr
  assert any("noplot.wav" in line for line in errors), r.stderr
  assert "2 of 3 files failed" in r.stderr
  # The file after the failure is still diarized and written, inside its 3 s.
  assert "[2/3]" in r.stderr and os.path.getsize(out / "short.png") > 1000
  for name in ("short", "noplot"):  # noplot's RTTM was written before its plot failed
    segs = rttm.read_rttm(out / f"{name}.rttm").get(name, [])
    assert all(0 <= s < e <= 3.0 + 1e-3 for s, e, _ in segs), segs
  assert (out / "blocked.rttm").is_dir() and not list(out.glob("*.tmp"))


def test_cli_missing_workdir_is_a_clear_error(tmp_path):
  r = _cli(f"--workdir={tmp_path / 'nope'}", _some_wav(tmp_path))
  assert r.returncode != 0 and "Traceback" not in r.stderr
  assert "not a drzjax run directory" in r.stderr


def test_python_api(tiny_run):
  pytest.importorskip("pyannote.core", reason="pyannote.core gives the Annotation view")
  d = diarize.Diarizer.from_workdir(tiny_run)
  wave, _ = conversation(np.random.default_rng(4), 10.0)
  r = d(wave, num_speakers=2)
  assert r.uri == "audio" and abs(r.duration - 10.0) < 1e-6
  assert len(r.annotation) == len(r.segments)
  letters = {s[2] for s in r.segments}
  assert letters <= {tokens.letter(i) for i in range(2)}


def test_output_names_are_unique_and_rttm_safe():
  uris, notes = diarize.output_names(["a.flac", "a.ogg", "d1/x.wav", "d2/x.wav", "my meeting.wav",
                                      "my_meeting.wav"])
  assert uris == ["a", "a_2", "x", "x_2", "my_meeting", "my_meeting_2"]
  assert len(notes) == 4 and any("spaces" in n for n in notes)


def test_cli_duplicate_and_spaced_names_all_written(tiny_run, tmp_path):
  rng = np.random.default_rng(8)
  for rel in ("d1/x.wav", "d2/x.wav", "my meeting.wav"):
    (tmp_path / rel).parent.mkdir(exist_ok=True)
    sf.write(tmp_path / rel, harmonic_voice(rng, 140.0, 2 * SR), SR)
  out = tmp_path / "out"
  r = _cli(f"--workdir={tiny_run}", str(tmp_path / "d1/x.wav"), str(tmp_path / "d2/x.wav"),
           str(tmp_path / "my meeting.wav"), f"--out={out}")
  assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
  assert sorted(os.listdir(out)) == ["my_meeting.rttm", "x.rttm", "x_2.rttm"]
  assert "writing it as x_2" in r.stderr and "writing it as my_meeting" in r.stderr


@pytest.mark.parametrize("flags,needle", [
    (["--beam=0"], "--beam must be >= 1"),
    (["--beam=-2"], "--beam must be >= 1"),
    (["--min-speakers=3", "--max-speakers=2"], "is more than --max-speakers"),
    (["--num-speakers=-1"], "--num-speakers must be >= 0"),
    (["--num-speakers=100", "--linking=prompts"], "speaker slots"),
])
def test_cli_bad_flags_are_one_line_errors(tiny_run, tmp_path, flags, needle):
  r = _cli(f"--workdir={tiny_run}", _some_wav(tmp_path), *flags)
  assert r.returncode != 0 and "Traceback" not in r.stderr and needle in r.stderr, r.stderr


def test_cli_out_that_is_a_file(tmp_path):
  (tmp_path / "f").write_text("x")
  r = _cli("x.wav", f"--out={tmp_path / 'f'}")
  assert r.returncode != 0 and "Traceback" not in r.stderr and "not a directory" in r.stderr


def test_truncated_run_config_names_the_file(tiny_run, tmp_path):
  import shutil  # noqa: PLC0415
  wd = tmp_path / "run"
  shutil.copytree(tiny_run, wd)
  cfg = wd / "config.json"
  cfg.write_text(cfg.read_text()[:40])
  r = _cli(f"--workdir={wd}", _some_wav(tmp_path))
  assert r.returncode != 0 and "Traceback" not in r.stderr
  assert "config.json: unreadable run config" in r.stderr, r.stderr


def test_cli_enroll_names_the_prompt_voice(tiny_run, tmp_path):
  rng = np.random.default_rng(10)
  sf.write(tmp_path / "clip.wav", harmonic_voice(rng, 110.0, 2 * SR), SR)
  sf.write(tmp_path / "talk.wav", harmonic_voice(rng, 110.0, 3 * SR), SR)
  r = _cli(f"--workdir={tiny_run}", str(tmp_path / "talk.wav"), f"--out={tmp_path / 'o'}",
           f"--enroll=bob={tmp_path / 'clip.wav'}")
  assert r.returncode == 0, r.stderr
  segs = rttm.read_rttm(tmp_path / "o" / "talk.rttm").get("talk", [])
  assert all(0 <= s < e <= 3.0 + 1e-3 for s, e, _ in segs)
  r = _cli(f"--workdir={tiny_run}", str(tmp_path / "talk.wav"), "--enroll=bob")
  assert r.returncode != 0 and "expected NAME=clip.wav" in r.stderr


def test_export_of_an_earlier_step(tiny_run, tmp_path):
  """--step exports that checkpoint (a learning curve's point), not the newest; a step with no
  checkpoint is a one-line error naming the steps kept, and nothing is written."""
  from drzjax import export  # noqa: PLC0415
  newest = export.export(tiny_run, str(tmp_path / "new"))
  meta = export.export(tiny_run, str(tmp_path / "at8"), step=8)
  assert meta["step"] == 8 < newest["step"]
  _, p8, m8 = export.load(str(tmp_path / "at8"))
  _, pn, _ = export.load(str(tmp_path / "new"))
  assert m8["step"] == 8
  f8, fn = export.flatten(p8), export.flatten(pn)
  assert sorted(f8) == sorted(fn) and any(not np.array_equal(f8[k], fn[k]) for k in f8)
  r = subprocess.run([sys.executable, "-m", "drzjax.export", f"--workdir={tiny_run}",
                      f"--out={tmp_path / 'at5'}", "--step=5"], cwd=ROOT, env=subprocess_env(),
                     capture_output=True, text=True, timeout=300)
  assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
  assert "no checkpoint at step 5 (kept: 4, 8, 12)" in r.stderr, r.stderr
  assert not (tmp_path / "at5").exists()


def test_export_round_trip(tiny_run, tmp_path):
  """drzjax.export writes a run's parameters; Diarizer.pretrained reads back the same arrays,
  config and step, and diarizes identically."""
  from drzjax import export  # noqa: PLC0415
  meta = export.export(tiny_run, str(tmp_path / "m"), note="test")
  assert sorted(os.listdir(tmp_path / "m")) == ["config.json", "meta.json", "params.npz"]
  a, b = diarize.Diarizer.from_workdir(tiny_run), diarize.Diarizer.pretrained(str(tmp_path / "m"))
  assert b.step == a.step == meta["step"] and b.config.variant == "tiny"
  # The training machine's bank paths stay in meta.json; the exported config names the default.
  assert meta["bank"]["path"] == a.config.bank.path != "" and b.config.bank.path == ""
  flat_a, flat_b = export.flatten(jax.device_get(a.params)), export.flatten(b.params)
  assert sorted(flat_a) == sorted(flat_b)
  for k in flat_a:
    np.testing.assert_array_equal(flat_a[k], np.asarray(flat_b[k]))
  wave = harmonic_voice(np.random.default_rng(11), 150.0, 3 * SR)
  assert a(wave).segments == b(wave).segments
  # --workdir (Diarizer.load) takes the export too, and still a run directory.
  c = diarize.Diarizer.load(str(tmp_path / "m"))
  assert c.step == a.step and c(wave).segments == a(wave).segments
  assert diarize.Diarizer.load(tiny_run).step == a.step


def test_cli_bad_inputs_are_reported_before_the_model_loads(tmp_path):
  """Missing, a directory, empty, a name too long for the file system (the input's own or its
  RTTM's): each named, and no model loaded (the workdir given does not exist, and is never
  reached)."""
  (tmp_path / "empty.wav").write_bytes(b"")
  (tmp_path / "folder.wav").mkdir()
  long_out = tmp_path / ("n" * 250 + ".wav")  # 254 bytes: fine, but not 250 + ".rttm.tmp"
  sf.write(long_out, np.zeros(SR, np.float32), SR)
  bad = {str(tmp_path / "missing.wav"): "No such file", str(tmp_path / "folder.wav"): "directory",
         str(tmp_path / "empty.wav"): "empty", str(tmp_path / ("m" * 300 + ".wav")): "too long",
         str(long_out): "too long"}
  r = _cli(f"--workdir={tmp_path / 'nope'}", *bad, f"--out={tmp_path / 'o'}")
  assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
  assert "run directory" not in r.stderr  # stopped before loading
  errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
  for path, needle in bad.items():
    assert any(path in line and needle in line for line in errors), (path, r.stderr)
  assert errors[-1] == "error: all 5 files failed (see above)", r.stderr
  # One input: one line, and no word of others.
  r = _cli(f"--workdir={tmp_path / 'nope'}", str(tmp_path / "empty.wav"))
  assert r.returncode == 1 and r.stderr.strip().splitlines() == [
      f"error: {tmp_path / 'empty.wav'}: empty file, not audio"], r.stderr


def test_failure_summary():
  assert diarize.failure_summary(["a.wav"], 1) == "error: a.wav failed (see above)"
  assert diarize.failure_summary(["a", "b"], 2) == "error: all 2 files failed (see above)"
  assert diarize.failure_summary(["a", "b", "c"], 2) == (
      "error: 2 of 3 files failed (see above); the other 1 was written")
  assert diarize.failure_summary(["a", "b", "c"], 1).endswith("the other 2 were written")


def test_cli_bad_input_beside_good_ones_and_a_plotted_reference(tiny_run, tmp_path):
  rng = np.random.default_rng(12)
  sf.write(tmp_path / "talk.wav", harmonic_voice(rng, 130.0, 3 * SR), SR)
  sf.write(tmp_path / "other.wav", harmonic_voice(rng, 180.0, 2 * SR), SR)
  refs = tmp_path / "refs"
  refs.mkdir()
  rttm.write_rttm(refs / "talk.rttm", "talk", [(0.2, 2.5, "alice"), (3.0, 4.0, "bob")])
  out = tmp_path / "out"
  r = _cli(f"--workdir={tiny_run}", str(tmp_path / "talk.wav"), str(tmp_path / "gone.wav"),
           str(tmp_path / "other.wav"), f"--out={out}", "--plot", f"--ref={refs}")
  assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
  assert "gone.wav: No such file" in r.stderr
  assert r.stderr.strip().splitlines()[-1].endswith("1 of 3 files failed (see above); the other "
                                                    "2 were written"), r.stderr
  assert "other.wav: no reference named other" in r.stderr, r.stderr
  assert sorted(os.listdir(out)) == ["other.png", "other.rttm", "talk.png", "talk.rttm"]
  # --ref needs --plot; a bad --ref is an error before the model loads.
  r = _cli(str(tmp_path / "talk.wav"), f"--ref={refs}")
  assert r.returncode == 2 and "add --plot" in r.stderr, r.stderr
  r = _cli(f"--workdir={tmp_path / 'nope'}", str(tmp_path / "talk.wav"), "--plot",
           f"--ref={tmp_path / 'none.rttm'}")
  assert r.returncode == 1 and "--ref" in r.stderr and "run directory" not in r.stderr, r.stderr


def test_plot_draws_reference_and_result_lanes():
  result = diarize.Diarization("talk", 3.0, [(0.3, 2.4, "A"), (2.6, 3.0, "B")])
  ref = [(0.2, 2.5, "alice"), (3.0, 4.0, "bob")]
  fig = diarize.timeline_figure(result, diarize.reference_for({"talk": ref}, "talk", 2))
  ax = fig.axes[0]
  assert [t.get_text() for t in ax.get_yticklabels()] == ["ref alice", "ref bob", "hyp A",
                                                          "hyp B"]
  spans = sorted((round(float(p.vertices[:, 0].min()), 3), round(float(p.vertices[:, 0].max()), 3))
                 for c in ax.collections for p in c.get_paths())
  assert spans == [(0.2, 2.5), (0.3, 2.4), (2.6, 3.0), (3.0, 4.0)]
  assert ax.get_xlim()[1] == 4.0  # the reference runs past the result: all of it is shown
  fig = diarize.timeline_figure(result)
  assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["A", "B"]
  # A lone reference serves a lone input whatever its name; otherwise names must match.
  assert diarize.reference_for({"ref_name": ref}, "talk", 1) == ref
  assert diarize.reference_for({"ref_name": ref}, "talk", 2) is None
  assert diarize.reference_for({"a": ref, "b": []}, "talk", 1) is None


def test_cli_bad_enrollment_clips_are_named_and_the_files_still_diarized(tiny_run, tmp_path):
  """Issue "Who is who", bad input: a silent clip, one under a second of speech, an unreadable
  one and a name given two different voices each get one line naming them; both inputs are
  still diarized (with the good enrollment) and the exit status says something was wrong."""
  rng = np.random.default_rng(11)
  here = os.path.join(ROOT, "tests", "data", "librispeech")
  man = os.path.join(here, "1688", "142285", "1688-142285-0005.flac")
  woman = os.path.join(here, "367", "130732", "367-130732-0008.flac")
  sf.write(tmp_path / "silent.wav", np.zeros(2 * SR, np.float32), SR)
  sf.write(tmp_path / "short.wav", harmonic_voice(rng, 120.0, SR // 2), SR)
  (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
  for name in ("a", "b"):
    sf.write(tmp_path / f"{name}.wav", harmonic_voice(rng, 110.0, 3 * SR), SR)
  r = _cli(f"--workdir={tiny_run}", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"),
           f"--out={tmp_path / 'o'}", f"--enroll=sam={tmp_path / 'silent.wav'}",
           f"--enroll=tim={tmp_path / 'short.wav'}", f"--enroll=bo={tmp_path / 'broken.wav'}",
           f"--enroll=ann={man}", f"--enroll=ann={woman}", f"--enroll=joe={man}")
  assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
  lines = [x for x in r.stderr.splitlines() if "error:" in x]
  for needle in (f"{tmp_path / 'silent.wav'}: enrollment clip for sam has no speech",
                 f"{tmp_path / 'short.wav'}: enrollment clip for tim has 0.",
                 f"{tmp_path / 'broken.wav'}", "--enroll ann: ", "do not sound like one voice"):
    assert sum(needle in x for x in lines) == 1, (needle, r.stderr)
  assert "joe" not in r.stderr
  assert (tmp_path / "o" / "a.rttm").exists() and (tmp_path / "o" / "b.rttm").exists()


def test_python_api_takes_enrollment_as_a_dict(tmp_path):
  rng = np.random.default_rng(12)
  clip = harmonic_voice(rng, F0S["q"], 3 * SR)
  sf.write(tmp_path / "q.wav", clip, SR)
  assert [n for n, _ in diarize.enrollment_pairs(
      {"alice": [str(tmp_path / "q.wav"), clip], "bob": clip}, SR)] == ["alice", "alice", "bob"]
  wave, _ = conversation(rng, 30.0)
  a = oracle()(wave, enroll={"alice": str(tmp_path / "q.wav")}).segments
  b = oracle()(wave, enroll=[("alice", diarize.enrollment_clip("alice", str(tmp_path / "q.wav"),
                                                                SR))]).segments
  assert a == b and "alice" in {s[2] for s in a}
  sf.write(tmp_path / "hush.wav", np.zeros(SR, np.float32), SR)
  with pytest.raises(ValueError, match="hush.wav: enrollment clip for carl has no speech"):
    oracle()(wave, enroll={"carl": str(tmp_path / "hush.wav")})
