"""Building speaker banks (format: data/speaker_bank.py) and choosing the one training uses.

From a corpus folder (`build_corpus`: find the files and their speakers by layout, load each as
16 kHz mono, find its speech regions, append it) or from TTS voices (`build_tts`: espeak-ng or
Kokoro). A build records each file in progress.jsonl as it goes and resumes from it; the
manifest is written last. `default_bank` turns config.bank into the bank path(s) the data
pipeline opens, building the embedded espeak-ng bank on first use. The command line is
drzjax/bank.py.
"""
import contextlib
import fcntl
import json
import os
import sys
import time

import numpy as np

from drzjax import files as files_lib
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import vad

SAMPLE_RATE = 16000
LAYOUTS = ("libritts", "librispeech", "vctk", "speaker-dirs")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".opus")
PROGRESS = "progress.jsonl"
LOCK = ".build.lock"
CHUNK = 60 * SAMPLE_RATE   # samples per streamed block; a multiple of the VAD hop
MIN_SPEAKERS = 3
MAX_WARNINGS = 20
VAD_NAME = "energy-hysteresis-v1"
# --vad choices: the name a manifest records for each (the segmentation network's name is
# drzjax.data.neural_vad.NAME, spelled out here so that energy builds never import jax).
VADS = {"energy": VAD_NAME, "segmentation": "segmentation-3.0-hysteresis-v1"}
BankError = bank_lib.BankError


def _log(msg):
  print(f"bank: {msg}", file=sys.stderr, flush=True)


# --- finding the files of a corpus -------------------------------------------------------------

def find_audio(source):
  """Sorted relative paths of the audio files under `source`."""
  found = []
  for root, dirs, files in os.walk(source, followlinks=True):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    rel = os.path.relpath(root, source)
    for f in files:
      if f.lower().endswith(AUDIO_EXTS) and not f.startswith("."):
        found.append(f if rel == "." else os.path.join(rel, f).replace(os.sep, "/"))
  return sorted(found)


def speaker_of(rel, layout):
  """(speaker, None) or (None, why the file does not fit the layout)."""
  parts = rel.split("/")
  if layout in ("libritts", "librispeech"):
    if len(parts) < 3:
      return None, "not in the SPEAKER/CHAPTER/file layout"
    return parts[-3], None
  if layout == "vctk":
    if len(parts) < 2:
      return None, "not inside a speaker folder (pXXX/file)"
    return parts[-2], None
  if layout == "speaker-dirs":
    if len(parts) < 2:
      return None, "not inside a speaker folder"
    return parts[0], None
  raise BankError(f"unknown layout {layout!r}: choose from {', '.join(LAYOUTS)}")


def _drop_vctk_mic2(files):
  have = set(files)
  return [f for f in files if "_mic2." not in f or f.replace("_mic2.", "_mic1.") not in have]


# --- the build machinery shared by corpora and TTS ---------------------------------------------

@contextlib.contextmanager
def _locked(out, log):
  """One build per bank directory at a time (e.g. two local training processes)."""
  with open(os.path.join(out, LOCK), "a") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      log(f"waiting for another build of {out} to finish")
      fcntl.flock(f, fcntl.LOCK_EX)
    yield


def _read_manifest(out):
  try:
    with open(os.path.join(out, bank_lib.MANIFEST)) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    raise BankError(f"{out}: unreadable {bank_lib.MANIFEST} ({e}); delete the directory and "
                    "rebuild") from None


def _is_built(out):
  out = os.path.abspath(os.path.expanduser(out))
  return os.path.isdir(out) and _read_manifest(out) is not None


def _prepare_out(out):
  out = os.path.abspath(os.path.expanduser(out))
  if problem := files_lib.dir_problem(out):
    raise BankError(problem)
  try:
    os.makedirs(out, exist_ok=True)
  except OSError as e:
    raise BankError(f"{out}: cannot create the bank directory ({e})") from None
  ours = {bank_lib.MANIFEST, bank_lib.AUDIO, PROGRESS, LOCK, bank_lib.MANIFEST + ".tmp",
          PROGRESS + ".tmp"}
  other = sorted(set(os.listdir(out)) - ours)
  if other:
    raise BankError(f"{out}: not empty and not a bank (holds {other[0]!r}); choose another --out")
  return out


def _describe(h):
  p = dict(h.get("params") or {})
  if h.get("vad", VAD_NAME) != VAD_NAME:
    p["vad"] = h["vad"]
  extra = ", ".join(f"{k} {v}" for k, v in sorted(p.items()))
  return f"{h.get('source')} ({h.get('layout')}{', ' + extra if extra else ''})"


def _already_built(out, header, split, log):
  """True if `out` is a finished bank of this source (re-splitting it if asked to)."""
  m = _read_manifest(out)
  if m is None:
    return False
  if (m.get("source"), m.get("layout"), m.get("params", {}), m.get("vad", VAD_NAME)) != (
      header["source"], header["layout"], header["params"], header.get("vad", VAD_NAME)):
    raise BankError(f"{out}: already holds a bank of {_describe(m)}, not of {_describe(header)}"
                    "; choose another --out")
  if m.get("build") != split:
    spk = sorted({u["speaker"] for u in m["utterances"]})
    m["splits"] = bank_lib.split_speakers(spk, split["val_fraction"], split["test_fraction"],
                                          split["seed"])
    m["build"] = split
    bank_lib.write_manifest(out, m)
    log(f"{out}: re-split with val {split['val_fraction']}, test {split['test_fraction']}, "
        f"seed {split['seed']}")
  else:
    log(f"{out}: already built ({len(set(u['speaker'] for u in m['utterances']))} speakers, "
        f"{sum(u['length'] for u in m['utterances']) / SAMPLE_RATE / 3600:.2f} h)")
  return True


def _resume(out, header, log):
  """Entries finished by an earlier run of this build; truncates audio.i16 after the last."""
  ppath, apath = os.path.join(out, PROGRESS), os.path.join(out, bank_lib.AUDIO)
  entries = []
  if os.path.exists(ppath):
    with open(ppath) as f:
      lines = f.read().split("\n")
    try:
      old = json.loads(lines[0])
    except ValueError:
      old = None
    if isinstance(old, dict):
      old.setdefault("vad", VAD_NAME)  # written before the header named its detector
    if old is not None and old != {"vad": VAD_NAME, **header}:
      raise BankError(f"{out}: holds an unfinished build of {_describe(old)}; delete it or "
                      "choose another --out")
    size = os.path.getsize(apath) // 2 if os.path.exists(apath) else 0
    for line in lines[1:]:
      try:
        e = json.loads(line)
      except ValueError:
        break  # a half-written last line: everything from here is redone
      if e["offset"] + e["length"] > size:
        break  # audio lost (crash before it reached the disk)
      entries.append(e)
    if entries:
      log(f"resuming: {len(entries)} files already done")
  end = max((e["offset"] + e["length"] for e in entries), default=0)
  with open(apath, "ab") as f:
    f.truncate(end * 2)
  tmp = ppath + ".tmp"
  with open(tmp, "w") as f:
    f.write(json.dumps(header) + "\n")
    for e in entries:
      f.write(json.dumps(e) + "\n")
  os.replace(tmp, ppath)
  return entries, end


class _Progress:
  """A status line on stderr: count, files/s, hours of audio, ETA (every 0.5 s on a terminal,
  every 5 s into a log)."""

  def __init__(self, total, done):
    self.total, self.start_done, self.t0, self.shown = total, done, time.time(), 0.0
    self.tty = sys.stderr.isatty()

  def update(self, done, seconds, final=False):
    now = time.time()
    if not final and now - self.shown < (0.5 if self.tty else 5.0):
      return
    self.shown = now
    rate = (done - self.start_done) / max(now - self.t0, 1e-6)
    left = (self.total - done) / rate if rate > 0 else float("inf")
    eta = "--" if left == float("inf") else time.strftime("%H:%M:%S", time.gmtime(left))
    line = (f"bank: {done}/{self.total} files  {rate:.1f} files/s  {seconds / 3600:.2f} h audio"
            f"  ETA {eta}")
    if self.tty:
      print("\r" + line.ljust(70), end="\n" if final else "", file=sys.stderr, flush=True)
    else:
      print(line, file=sys.stderr, flush=True)


def _to_int16(x):
  return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class _Unusable(Exception):
  """A file that loads but cannot be used (no speech in it)."""


def _build(out, header, items, split, strict=False, log=_log, bad_file=()):
  """Shared by corpus and TTS builds.

  items: list of (key, speaker, chunks) where chunks() yields float32 16 kHz blocks (a multiple
  of the VAD hop long, except the last) and raises one of `bad_file` for a bad file (the
  caller's AudioError: TTS builds never import drzjax.audio, nor with it jax).
  """
  bad_file = (_Unusable, *bad_file)
  out = _prepare_out(out)
  with _locked(out, log):
    if _already_built(out, header, split, log):
      return out
    entries, end = _resume(out, header, log)
    done_keys = {e["file"] for e in entries}
    hop = int(round(vad.HOP_SECONDS * SAMPLE_RATE))
    neural = header.get("vad", VAD_NAME) == VADS["segmentation"]
    if neural:
      from drzjax.data import neural_vad  # jax and the network: only for builds that ask
    skipped, first_problem = [], None
    seconds = end / SAMPLE_RATE
    progress = _Progress(len(items), len(done_keys))
    apath = os.path.join(out, bank_lib.AUDIO)
    with open(apath, "r+b") as audio, open(os.path.join(out, PROGRESS), "a") as prog:
      audio.seek(end * 2)
      for key, speaker, chunks in items:
        if key in done_keys:
          continue
        offset, n, power, blocks = end, 0, [], []
        try:
          for block in chunks():
            if neural:  # the network sees whole 10 s windows: keep the file (utterance-sized)
              blocks.append(block)
            else:
              power.append(vad.frame_power(block, hop))
            audio.write(_to_int16(block).tobytes())
            n += len(block)
          if not n:
            regions = np.zeros((0, 2))
          elif neural:
            regions = neural_vad.speech_regions(np.concatenate(blocks), SAMPLE_RATE)
          else:
            regions = vad.regions_from_power(np.concatenate(power), n, SAMPLE_RATE, hop)
          if not len(regions):
            raise _Unusable(f"{key}: no speech found (silence or too quiet)")
        except bad_file as e:
          audio.seek(offset * 2)
          audio.truncate(offset * 2)
          if strict:
            raise BankError(f"{e} (--strict: no bad files allowed)") from None
          skipped.append(str(e))
          first_problem = first_problem or str(e)
          if len(skipped) <= MAX_WARNINGS:
            log(f"warning: skipped {e}")
          if len(skipped) == MAX_WARNINGS:
            log("warning: further skipped files are only counted in the summary")
          continue
        audio.flush()
        e = {"file": key, "speaker": speaker, "offset": int(offset), "length": int(n),
             "regions": regions.astype(np.int64).tolist()}
        prog.write(json.dumps(e) + "\n")
        prog.flush()
        entries.append(e)
        done_keys.add(key)
        end = offset + n
        seconds += n / SAMPLE_RATE
        progress.update(len(done_keys) + len(skipped), seconds)
      progress.update(len(done_keys) + len(skipped), seconds, final=True)
      audio.flush()
      os.fsync(audio.fileno())
    if skipped:
      log(f"skipped {len(skipped)} of {len(items)} files (see the warnings above)")
    if not entries:
      raise BankError(f"{header['source']}: no usable audio: all {len(items)} files were "
                      f"skipped (first: {first_problem})")
    speakers = sorted({e["speaker"] for e in entries})
    if len(speakers) < MIN_SPEAKERS:
      raise BankError(f"{header['source']}: only {len(speakers)} speaker(s) with speech "
                      f"({', '.join(speakers)}); a bank needs at least {MIN_SPEAKERS} "
                      "(train, val and test never share a speaker)")
    splits = bank_lib.split_speakers(speakers, split["val_fraction"], split["test_fraction"],
                                     split["seed"])
    speech = sum(r[1] - r[0] for e in entries for r in e["regions"])
    bank_lib.write_manifest(out, {
        "sample_rate": SAMPLE_RATE, "source": header["source"], "layout": header["layout"],
        "params": header["params"], "vad": header.get("vad", VAD_NAME), "build": split,
        "skipped": len(skipped), "utterances": entries, "splits": splits})
    os.remove(os.path.join(out, PROGRESS))
    total = sum(e["length"] for e in entries)
    log(f"built {out}: {len(speakers)} speakers ({len(splits['train'])} train, "
        f"{len(splits['val'])} val, {len(splits['test'])} test), {len(entries)} utterances, "
        f"{total / SAMPLE_RATE / 3600:.2f} h, {speech / max(total, 1):.0%} speech")
  return out


def _split(val_fraction, test_fraction, seed):
  for name, v in (("val fraction", val_fraction), ("test fraction", test_fraction)):
    if not 0 <= v < 1:
      raise BankError(f"{name} {v}: must be in [0, 1)")
  return {"val_fraction": float(val_fraction), "test_fraction": float(test_fraction),
          "seed": int(seed)}


def build_corpus(source, layout, out, val_fraction=0.1, test_fraction=0.1, seed=0,
                 strict=False, log=_log, vad_kind="energy"):
  """Build a bank at `out` from the corpus folder `source`. Returns the bank path.

  vad_kind: the speech detector of the regions, "energy" (drzjax.data.vad) or "segmentation"
  (drzjax.data.neural_vad: the segmentation network, ~100x real time on 2 cores; it keeps
  the whole file in memory, as its windows see 10 s at once).
  """
  if layout not in LAYOUTS:
    raise BankError(f"unknown layout {layout!r}: choose from {', '.join(LAYOUTS)}")
  if vad_kind not in VADS:
    raise BankError(f"unknown vad {vad_kind!r}: choose from {', '.join(VADS)}")
  source = os.path.abspath(os.path.expanduser(source))
  if not os.path.isdir(source):
    raise BankError(f"{source}: no such directory" if not os.path.exists(source)
                    else f"{source}: not a directory")
  split = _split(val_fraction, test_fraction, seed)
  header = {"source": source, "layout": layout, "params": {}, "sample_rate": SAMPLE_RATE,
            "vad": VADS[vad_kind]}
  if _is_built(out):
    return _build(out, header, [], split, strict, log)  # already built: skip the file walk
  from drzjax.audio import AudioError, audio_info, iter_audio_chunks  # librosa: only here
  files = find_audio(source)
  if not files:
    raise BankError(f"{source}: no audio files ({' '.join(AUDIO_EXTS)}) in it")
  if layout == "vctk":
    files = _drop_vctk_mic2(files)
  said = set()

  def loader(path):
    def chunks():
      info = audio_info(path, SAMPLE_RATE)
      conv = info.conversion
      if conv and conv not in said:  # once per kind of conversion, not once per file
        said.add(conv)
        log(f"{path}: {conv} (and likewise for all such files)")
      yield from iter_audio_chunks(path, CHUNK, SAMPLE_RATE, info)
    return chunks

  items, outside = [], []
  for rel in files:
    spk, why = speaker_of(rel, layout)
    if spk is None:
      outside.append(f"{os.path.join(source, rel)}: {why}")
      continue
    items.append((rel, spk, loader(os.path.join(source, rel))))
  for msg in outside[:MAX_WARNINGS]:
    if strict:
      raise BankError(f"{msg} (--strict)")
    log(f"warning: skipped {msg}")
  if len(outside) > MAX_WARNINGS:
    log(f"warning: skipped {len(outside)} files outside the {layout} layout in all")
  if not items:
    raise BankError(f"{source}: none of its {len(files)} audio files fits the {layout} layout "
                    f"(first: {outside[0]})")
  log(f"{len(items)} audio files of {len({s for _, s, _ in items})} speakers in {source}")
  return _build(out, header, items, split, strict, log, bad_file=(AudioError,))


def build_tts(out, speakers=240, utterances=6, val_fraction=0.1, test_fraction=0.1, seed=0,
              log=_log, engine="espeak"):
  """Build a bank of TTS voices at `out`: the embedded espeak-ng voices (drzjax.data.tts), or
  with engine="kokoro" Kokoro-82M neural voices (drzjax.data.kokoro, optional packages)."""
  from drzjax.data import kokoro, tts
  engines = {"espeak": (tts, "tts"), "kokoro": (kokoro, "kokoro")}  # module, bank layout
  if engine not in engines:
    raise BankError(f"unknown TTS engine {engine!r}: choose from {', '.join(engines)}")
  mod, layout = engines[engine]
  if speakers < MIN_SPEAKERS or utterances < 1:
    raise BankError(f"a TTS bank needs at least {MIN_SPEAKERS} speakers and 1 utterance each "
                    f"(got {speakers} x {utterances})")
  if engine == "kokoro" and not _is_built(out):
    kokoro.load()  # missing packages: one clear error before anything is written
  header = {"source": "tts", "layout": layout, "sample_rate": SAMPLE_RATE,
            "params": {"speakers": int(speakers), "utterances": int(utterances),
                       "seed": int(seed)}}
  voices = {}

  def synth(s, u):
    def chunks():
      v = voices.setdefault(s, mod.voice(seed, s))
      x = mod.speak_utterance(seed, s, u, v, SAMPLE_RATE)[1]
      for i in range(0, len(x), CHUNK):
        yield x[i:i + CHUNK]
    return chunks

  items = [(f"{mod.speaker_name(s)}/{u:03d}", mod.speaker_name(s), synth(s, u))
           for s in range(speakers) for u in range(utterances)]
  return _build(out, header, items, _split(val_fraction, test_fraction, seed), log=log)


def default_bank(config, log=_log):
  """The bank(s) training uses, as the path `speaker_bank.open_bank` reads: config.bank.path, one
  bank directory or several separated by commas (a mixed bank, drawn with config.bank.weights),
  where "default" (or an empty path) is the embedded espeak-ng bank, built on first use."""
  parts = [p.strip() for p in config.bank.path.split(",")] if config.bank.path.strip() else []
  weights = config.bank.weights.strip()
  if weights and len(weights.split(",")) != max(1, len(parts)):
    raise BankError(f"bank.weights={weights!r} has {len(weights.split(','))} entries for "
                    f"{max(1, len(parts))} bank(s) in bank.path={config.bank.path!r}")
  paths = []
  for p in parts or ["default"]:
    if p == "default":
      paths.append(_embedded_bank(config, log))
    else:
      paths.append(os.path.abspath(os.path.expanduser(p)))
      bank_lib.Bank(paths[-1])  # raises BankError naming the problem
  return ",".join(paths)


def _embedded_bank(config, log):
  """<cache_dir>/tts-<speakers>x<utterances>-seed<seed>: espeak-ng voices, built once."""
  b = config.bank
  path = os.path.join(os.path.abspath(os.path.expanduser(b.cache_dir)),
                      f"tts-{b.tts_speakers}x{b.tts_utterances}-seed{config.seed}")
  if not _is_built(path):
    log(f"building the default voice bank into {path} (once; ~2 minutes on 2 CPU cores, "
        "progress below)")
  quiet = lambda msg: None if "already built" in msg else log(msg)  # noqa: E731
  return build_tts(path, b.tts_speakers, b.tts_utterances, b.val_fraction, b.test_fraction,
                   config.seed, log=quiet)


# --- info --------------------------------------------------------------------------------------

def bank_info(path):
  """A text summary of a bank: speakers / hours / speech per split, utterance length histogram."""
  bank = bank_lib.Bank(path)
  sr, m = bank.sample_rate, bank.manifest
  lines = [f"bank {bank.path}", f"  source {m.get('source')}  layout {m.get('layout')}  "
           f"{sr} Hz  vad {m.get('vad')}  skipped files {m.get('skipped', 0)}",
           f"  {'split':<6} {'speakers':>8} {'utts':>7} {'hours':>8} {'speech':>7}"]
  for name in (*bank_lib.SPLITS, "all"):
    spk = set(bank.splits[name]) if name != "all" else set(bank.by_speaker)
    utts = [u for u in bank.utterances if u.speaker in spk]
    total = sum(u.length for u in utts)
    speech = sum(int((u.regions[:, 1] - u.regions[:, 0]).sum()) for u in utts)
    lines.append(f"  {name:<6} {len(spk):>8} {len(utts):>7} {total / sr / 3600:>8.2f} "
                 f"{speech / max(total, 1):>7.0%}")
  secs = np.array([u.length / sr for u in bank.utterances])
  if len(secs):
    lines.append(f"  utterance length: min {secs.min():.1f} s, median {np.median(secs):.1f} s, "
                 f"max {secs.max():.1f} s")
    top = max(1.0, float(np.ceil(secs.max())))
    counts, edges = np.histogram(secs, bins=min(12, max(1, int(top))), range=(0, top))
    width = 40 / max(counts.max(), 1)
    for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
      lines.append(f"  {lo:6.1f}-{hi:<6.1f}s {'#' * int(round(c * width)):<40} {c}")
  return "\n".join(lines)
