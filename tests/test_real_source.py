"""Real recordings as a training source (drzjax/data/real.py): chunks a pure function of
(seed, index), never outside the UEM, the targets to_example gives the same turns, a train/val
split by recording, mixing with synthesis that resumes through an Orbax checkpoint, every kind
of bad input as one line naming the file, and a tiny training run on it.

The recordings are conversations of the LibriSpeech voices in tests/data (real speech), written
to tmp_path as wav / flac + RTTM (+ UEM).
"""
import glob
import logging
import os
import re

import numpy as np
import pytest
import soundfile as sf

from configs import base
from conftest import ROOT, run_main
from drzjax import audio as audio_lib
from drzjax import rttm
from drzjax.data import pipeline
from drzjax.data import real

SR = 16000
VOICES = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "librispeech", "*", "*", "*.flac")))
LOUD = 0.95  # a square wave written outside a UEM: no chunk may contain it


def conversation(rng, names, secs):
  """(audio, segments): utterances of `names` (speaker k reads the files of voice k) taking
  turns, gaps of -0.5..1 s (overlaps included), then silence to `secs`."""
  by_voice = [[sf.read(f, dtype="float32")[0] for f in VOICES if f"/{v}/" in f]
              for v in sorted({f.split(os.sep)[-3] for f in VOICES})]
  audio, segs, pos, prev = np.zeros(int(secs * SR), np.float32), [], 0.5, -1
  while True:
    k = int(rng.choice([j for j in range(len(names)) if j != prev]))
    x = by_voice[k % len(by_voice)][int(rng.integers(2))][:int(rng.uniform(1.0, 3.5) * SR)]
    a = int(pos * SR)
    if a + len(x) > len(audio) - SR:
      return audio, segs
    audio[a:a + len(x)] += x
    segs.append((a / SR, (a + len(x)) / SR, names[k]))
    pos, prev = (a + len(x)) / SR + rng.uniform(-0.5, 1.0), k


def write(folder, uri, names, secs=40.0, seed=0, ext="wav", uem=None):
  """A recording: audio + RTTM (+ UEM regions, with LOUD audio outside them)."""
  os.makedirs(folder, exist_ok=True)
  audio, segs = conversation(np.random.default_rng(seed), names, secs)
  if uem:
    inside = np.zeros(len(audio), bool)
    for a, b in uem:
      inside[int(a * SR):int(b * SR)] = True
    audio[~inside] = LOUD * np.sign(np.sin(np.arange(np.sum(~inside)) / 5) + 1e-3)
    with open(os.path.join(folder, f"{uri}.uem"), "w") as f:
      f.writelines(f"{uri} 1 {a:.3f} {b:.3f}\n" for a, b in uem)
  sf.write(os.path.join(folder, f"{uri}.{ext}"), audio, SR)
  rttm.write_rttm(os.path.join(folder, f"{uri}.rttm"), uri, segs)
  return audio, segs


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("real") / "recs")
  write(d, "meetA", ["ann", "bob", "cat"], seed=1)
  write(d, "meetB", ["dan", "eve"], seed=2, ext="flac")
  write(d, "meetC", ["fay", "gus", "hal"], seed=3, uem=[(5.0, 14.0), (20.0, 31.0)])
  for i in range(4):
    write(d, f"call{i}", ["ida", "jon"], secs=20.0, seed=10 + i)
  return d


def config(folder, weight=1.0, **data):
  c = base.get_config("tiny")
  c.data.real_dir, c.data.real_weight = folder, weight
  for k, v in data.items():
    c.data[k] = v
  return c


def source(folder, split="train", **data):
  c = config(folder, **data)
  spec = pipeline.ExampleSpec.from_config(c, "unused", split)
  return real.Source(spec.real, split, spec.mix, spec.vocab.speakers), spec


def span_name(m):
  return m.channel[0] if m.channel and m.channel[0].startswith("real ") else None


def span(m):
  """(uri, t0, t1) of a chunk, from the name it carries."""
  uri, a, b = re.match(r"real (\S+) ([\d.]+)-([\d.]+) s", m.channel[0]).groups()
  return uri, float(a), float(b)


def test_chunks_are_a_pure_function_of_seed_and_index(folder):
  src, _ = source(folder)
  again, _ = source(folder)
  seen = set()
  for i in range(12):
    a, b = src.chunk(0, i), again.chunk(0, i)
    assert a.audio.tobytes() == b.audio.tobytes() and a.segments == b.segments
    seen.add(a.audio.tobytes())
  assert len(seen) == 12  # different indices, different chunks
  assert src.chunk(1, 0).audio.tobytes() != src.chunk(0, 0).audio.tobytes()


def test_chunks_never_leave_the_uem(folder):
  src, spec = source(folder, prompt_prob=0.5, real_val_fraction=0.0)
  hits = 0
  for i in range(150):
    m = src.chunk(0, i)
    if span(m)[0] == "meetC":
      hits += 1
      _, t0, t1 = span(m)
      assert (5.0 <= t0 and t1 <= 14.0) or (20.0 <= t0 and t1 <= 31.0), (t0, t1)
      # Prompt clips too: the audio outside the UEM (a loud square wave) is in no chunk.
      assert np.abs(m.audio).max() < 0.9
  assert hits > 10


def test_a_region_shorter_than_a_chunk_gives_its_whole_length(tmp_path):
  # 7.3 - (7.3 - 0.1) < 0.1 in floating point: the draw must not ask for a negative range.
  d = str(tmp_path / "short")
  write(d, "short", ["a", "b"], secs=20.0, uem=[(0.1, 7.3)])
  for prompt_prob in (0.0, 1.0):
    src, _ = source(d, real_val_fraction=0.0, prompt_prob=prompt_prob)
    for i in range(10):
      m = src.chunk(0, i)
      _, t0, t1 = span(m)
      assert 0.1 <= t0 and t1 <= 7.3 + 1e-9 and np.abs(m.audio).max() < 0.9
      if not prompt_prob:
        assert abs(len(m.audio) / SR - 7.2) < 1e-3


def test_targets_are_what_to_example_gives_the_same_turns(folder):
  src, spec = source(folder, prompt_prob=0.0, real_val_fraction=0.0)
  refs = rttm.collect_rttm(folder)
  for i in range(8):
    m = src.chunk(0, i)
    uri, t0, t1 = span(m)
    path = next(r.path for r in src.recordings if r.uri == uri)  # .wav or .flac
    whole = sf.read(path, dtype="float32")[0]
    # The chunk's audio is the file's samples of its span, and it spans max_secs.
    np.testing.assert_allclose(m.audio, whole[int(round(t0 * SR)):][:len(m.audio)], atol=1e-6)
    assert abs(len(m.audio) / SR - spec.mix.max_secs) < 1e-3
    want = [(max(s, t0) - t0, min(e, t1) - t0, w) for s, e, w in refs[uri] if e > t0 and s < t1]
    expect = pipeline.to_example(type(m)(m.audio, sorted(want), []), spec)
    got = pipeline.to_example(m, spec)
    for k in got:
      np.testing.assert_array_equal(got[k], expect[k], err_msg=k)
    # Speakers in arrival order: letter k (frame column k) is the k-th voice to speak.
    firsts = [np.argmax(got["frames"][:, k]) for k in range(got["frames"].shape[1])
              if got["frames"][:, k].any()]
    assert firsts == sorted(firsts) and len(firsts) == len({w for _, _, w in want})


def test_prompted_chunks_are_laid_out_as_diarize_does(folder):
  from drzjax import prompt as prompt_lib
  src, spec = source(folder, prompt_prob=1.0, real_val_fraction=0.0)
  prompted = 0
  for i in range(10):
    m = src.chunk(0, i)
    if not m.prompt:
      continue
    prompted += 1
    uri, t0, t1 = span(m)
    rec = next(r for r in src.recordings if r.uri == uri)
    head = m.segments[:m.prompt]
    # Clip k of the prompt: speaker k, [start, end) as layout places it, the chunk after it.
    pos, whole = 0.0, audio_lib.load_audio(rec.path)
    for (s, e, w), name in zip(head, m.channel[1:]):
      assert abs(s - pos) < 1e-6 and e > s
      pos = e + prompt_lib.SILENCE_SECS
      # Its audio is a stretch of the same recording where w talks alone, away from the chunk.
      who, a, b = re.match(r"prompt (\S+) ([\d.]+)-([\d.]+) s", name).groups()
      a, b = float(a), float(b)
      assert who == w and abs((b - a) - (e - s)) < 1e-3
      np.testing.assert_allclose(m.audio[int(round(s * SR)):int(round(e * SR))],
                                 whole[int(round(a * SR)):int(round(b * SR))], atol=1e-6)
      assert any(v == w and lo <= a and b <= hi for lo, hi, v in rec.solo), (uri, w, a, b)
      assert b <= t0 or a >= t1
    ex = pipeline.to_example(m, spec)
    ids = ex["labels"][:3 * m.prompt]
    assert list(ids) == prompt_lib.forced_ids([(s, e) for s, e, _ in head], spec.vocab)
  assert prompted >= 5


def test_chunks_read_only_their_samples(folder, monkeypatch):
  src, _ = source(folder)
  monkeypatch.setattr(audio_lib, "load_audio", lambda *a, **k: pytest.fail("read whole"))
  for i in range(5):
    assert len(src.chunk(0, i).audio)


def test_split_is_by_recording_and_stable(folder, tmp_path):
  train, _ = source(folder, real_val_fraction=0.3)
  val, _ = source(folder, "val", real_val_fraction=0.3)
  t, v = {r.uri for r in train.recordings}, {r.uri for r in val.recordings}
  assert t and v and not t & v and len(t | v) == 7
  # Validation's stream draws from the val recordings only; the test set stays synthetic.
  c = config(folder, 1.0, real_val_fraction=0.3)
  synth = pipeline.Synthesizer(pipeline.ExampleSpec.from_config(c, "unused", "val", seed=1))
  assert {span(synth.mixture(i))[0] for i in range(20)} <= v
  assert pipeline.ExampleSpec.from_config(c, "unused", "test").real.weight == 0
  # A recording's split is its own: more recordings move none of the others.
  assert [real.split_of(u, 0, 0.3) for u in sorted(t | v)] == \
      ["val" if u in v else "train" for u in sorted(t | v)]


def test_mixing_is_a_pure_function_and_resumes(folder, small_bank, tmp_path):
  import jax
  import jax.numpy as jnp
  from drzjax import checkpoint
  c = config(folder, 0.5)
  spec = pipeline.ExampleSpec.from_config(c, small_bank, "train")
  synth = pipeline.Synthesizer(spec)
  kinds = [synth.mixture(i).channel[:1] == (span_name(synth.mixture(i)),) for i in range(40)]
  assert 10 <= sum(kinds) <= 30
  assert kinds == [real.is_real(spec.seed, i, 0.5) for i in range(40)]
  # real_weight 0: exactly the synthetic stream.
  off = pipeline.ExampleSpec.from_config(config(folder, 0.0), small_bank, "train")
  plain = pipeline.ExampleSpec.from_config(base.get_config("tiny"), small_bank, "train")
  a, b = pipeline.Synthesizer(off)(3), pipeline.Synthesizer(plain)(3)
  assert all(a[k].tobytes() == b[k].tobytes() for k in a)
  # The stream position goes into the Orbax checkpoint and comes back.
  it = iter(pipeline.dataset(spec, 2))
  next(it)
  mngr = checkpoint.manager(tmp_path, keep=1)
  state = {"w": jnp.zeros(2)}
  checkpoint.save(mngr, 1, state, it, {})
  mngr.wait_until_finished()
  want = [next(it) for _ in range(2)]
  fresh = iter(pipeline.dataset(spec, 2))
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
                          state)
  checkpoint.restore_latest(checkpoint.manager(tmp_path), abstract, fresh)
  for x, y in zip([next(fresh) for _ in range(2)], want):
    assert all(x[k].tobytes() == y[k].tobytes() for k in x)


def _bad(tmp_path, case):
  d = str(tmp_path / "bad")
  os.makedirs(d)
  if case == "empty":
    return d, d
  write(d, "ok", ["a", "b"], secs=20.0)
  if case == "rttm_without_audio":
    rttm.write_rttm(os.path.join(d, "ghost.rttm"), "ghost", [(1.0, 2.0, "a")])
    return d, "ghost.rttm"
  if case == "audio_without_rttm":
    sf.write(os.path.join(d, "lonely.wav"), np.zeros(SR * 10, np.float32), SR)
    return d, "lonely.wav"
  if case == "past_the_end":
    rttm.write_rttm(os.path.join(d, "ok.rttm"), "ok", [(1.0, 2.0, "a"), (15.0, 25.0, "b")])
    return d, "ok.rttm"
  if case == "uem_covers_nothing":
    with open(os.path.join(d, "ok.uem"), "w") as f:
      f.write("ok 1 30.0 40.0\n")  # after the end of the 20 s audio
    return d, "ok.uem"
  if case == "malformed_rttm":
    with open(os.path.join(d, "ok.rttm"), "a") as f:
      f.write("SPEAKER ok 1 x 1.0 <NA> <NA> a <NA> <NA>\n")
    return d, "ok.rttm:"
  raise AssertionError(case)


@pytest.mark.parametrize("case", ["empty", "rttm_without_audio", "audio_without_rttm",
                                  "past_the_end", "uem_covers_nothing", "malformed_rttm"])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case):
  d, name = _bad(tmp_path, case)
  real.index.cache_clear()
  with pytest.raises(ValueError) as e:
    source(d)
  msg = str(e.value)
  assert "\n" not in msg and name in msg, msg


def test_too_many_speakers_skips_the_chunk_and_says_how_often(tmp_path, caplog):
  d = str(tmp_path / "crowd")
  audio, segs = write(d, "crowd", ["a", "b"], secs=60.0)
  # Five voices (one more than tiny's 4 slots) take 1 s turns over the first 12 s.
  crowd = [(t, t + 1.0, f"v{int(t) % 5}") for t in range(12)]
  rttm.write_rttm(os.path.join(d, "crowd.rttm"), "crowd",
                  crowd + [(s, e, w) for s, e, w in segs if s >= 12.0])
  src, _ = source(d, real_val_fraction=0.0, prompt_prob=0.0)
  with caplog.at_level(logging.WARNING):
    chunks = [src.chunk(0, i) for i in range(40)]
  assert all(len({w for _, _, w in m.segments}) <= 4 for m in chunks)
  assert src.skipped > 0 and "more than the model's 4 slots" in caplog.text
  assert f"({src.skipped} of {src.drawn} chunks drawn so far)" in caplog.text or \
      "chunks drawn so far" in caplog.text
  # Every chunk too crowded: an error naming the folder, not an endless loop.
  rttm.write_rttm(os.path.join(d, "crowd.rttm"), "crowd",
                  [(t / 2, t / 2 + 0.5, f"v{t % 5}") for t in range(119)])
  real.index.cache_clear()
  src, _ = source(d, real_val_fraction=0.0, prompt_prob=0.0)
  with pytest.raises(real.RealDataError, match="slots"):
    src.chunk(0, 0)


def test_more_turns_than_labels_end_the_chunk_where_the_budget_does(tmp_path):
  d = str(tmp_path / "chatty")
  write(d, "chatty", ["a", "b"], secs=30.0)
  # 0.3 s turns, alternating: a 7.76 s chunk would need ~26 triplets, tiny holds 21.
  rttm.write_rttm(os.path.join(d, "chatty.rttm"), "chatty",
                  [(0.3 * i, 0.3 * i + 0.25, "ab"[i % 2]) for i in range(95)])
  for prompt_prob in (0.0, 1.0):
    src, spec = source(d, real_val_fraction=0.0, prompt_prob=prompt_prob)
    for i in range(10):
      m = src.chunk(0, i)
      ex = pipeline.to_example(m, spec)  # would raise if the labels did not fit
      assert len(m.segments) <= spec.mix.max_segments
      assert ex["labels"][3 * len(m.segments)] == 1  # EOS right after the last triplet
      if not prompt_prob and span(m)[1] < 20:  # a chunk with turns all through
        assert len(m.segments) == spec.mix.max_segments and len(m.audio) / SR < 7.0
        assert max(e for _, e, _ in m.segments) <= len(m.audio) / SR + 1e-9


def test_config_errors():
  with pytest.raises(ValueError, match="data.real_dir"):
    real.RealConfig.from_config(config("", 0.5))
  with pytest.raises(ValueError, match="data.real_weight"):
    real.RealConfig.from_config(config("/x", 1.5))


def test_training_runs_on_real_chunks_and_refuses_an_empty_folder(folder, small_bank, tmp_path):
  wd = str(tmp_path / "run")
  r = run_main(wd, small_bank, "--config.train.steps=2", "--config.train.log_every=1",
               f"--config.data.real_dir={folder}", "--config.data.real_weight=0.5")
  assert r.returncode == 0, r.stdout + r.stderr
  assert "real recordings (train)" in r.stderr and os.path.isdir(os.path.join(wd, "checkpoints"))
  # An export names no recordings of the training machine; its meta.json says what it used.
  import json
  from drzjax import export
  export.export(wd, str(tmp_path / "export"))
  cfg = json.load(open(tmp_path / "export" / "config.json"))
  assert cfg["data"]["real_dir"] == "" and cfg["data"]["real_weight"] == 0.0
  assert json.load(open(tmp_path / "export" / "meta.json"))["real"]["dir"] == folder
  empty = tmp_path / "none"
  empty.mkdir()
  r = run_main(str(tmp_path / "run2"), small_bank, f"--config.data.real_dir={empty}",
               "--config.data.real_weight=0.5")
  assert r.returncode == 1
  errors = [line for line in r.stderr.splitlines() if re.match(r"\S+ E ", line)]
  assert len(errors) == 1 and str(empty) in errors[0], r.stderr
  assert "compiling" not in r.stderr and not os.path.exists(str(tmp_path / "run2" / "checkpoints"))
