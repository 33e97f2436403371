"""Speaker bank on disk: random-access single-speaker utterances with their speech regions.

Layout of a bank directory (written by `python -m drzjax.bank build`):

  audio.i16       all utterances, 16 kHz mono int16, concatenated (read via np.memmap)
  manifest.json   {"version", "sample_rate", "source", "layout", "vad",
                   "utterances": [{"speaker", "file", "offset", "length", "regions"}],
                   "splits": {"train": [speaker, ...], "val": [...], "test": [...]}}

`offset`/`length` are in samples into audio.i16; `regions` are [start, end) sample pairs relative
to the utterance. manifest.json is written last and atomically: a directory without it is an
unfinished build, never mistaken for a bank.
"""
import dataclasses
import json
import os

import numpy as np

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
AUDIO = "audio.i16"
VERSION = 1


class BankError(Exception):
  """A bank that cannot be used; the message names the path and the problem."""


@dataclasses.dataclass(frozen=True)
class Utterance:
  speaker: str
  file: str
  offset: int
  length: int
  regions: np.ndarray  # (k, 2) int64 [start, end) samples, relative to the utterance


class Bank:
  """Read-only view of a built bank. Cheap to open; audio is memory-mapped, read on demand."""

  def __init__(self, path):
    self.path = os.path.abspath(os.path.expanduser(path))
    mpath = os.path.join(self.path, MANIFEST)
    if not os.path.isdir(self.path):
      raise BankError(f"{self.path}: no such bank directory")
    if not os.path.exists(mpath):
      raise BankError(f"{self.path}: not a complete bank (no {MANIFEST}; was the build "
                      "interrupted? rerun `python -m drzjax.bank build`, it resumes)")
    try:
      with open(mpath) as f:
        m = json.load(f)
    except (OSError, ValueError) as e:
      raise BankError(f"{mpath}: unreadable manifest ({e})") from None
    if m.get("version") != VERSION:
      raise BankError(f"{mpath}: bank version {m.get('version')}, expected {VERSION}")
    self.manifest = m
    self.sample_rate = int(m["sample_rate"])
    self.utterances = [
        Utterance(u["speaker"], u["file"], int(u["offset"]), int(u["length"]),
                  np.asarray(u["regions"], np.int64).reshape(-1, 2))
        for u in m["utterances"]]
    self.splits = {s: list(m["splits"].get(s, [])) for s in SPLITS}
    self.by_speaker = {}
    for i, u in enumerate(self.utterances):
      self.by_speaker.setdefault(u.speaker, []).append(i)
    apath = os.path.join(self.path, AUDIO)
    need = max((u.offset + u.length for u in self.utterances), default=0)
    size = os.path.getsize(apath) // 2 if os.path.exists(apath) else -1
    if size < need:
      raise BankError(f"{apath}: holds {max(size, 0)} samples, manifest needs {need} (truncated?)")
    self._audio = np.memmap(apath, np.int16, mode="r") if size > 0 else np.zeros(0, np.int16)

  def speakers(self, split):
    """Speakers of a split ("all": every split) that have at least one utterance with speech."""
    if split == "all":
      return sorted(self.by_speaker)
    return [s for s in self.splits[split] if s in self.by_speaker]

  def utterances_of(self, speaker):
    return [self.utterances[i] for i in self.by_speaker[speaker]]

  def audio(self, utt, start=0, end=None):
    """Float32 samples in [-1, 1] of utterance `utt`, optionally only [start, end)."""
    end = utt.length if end is None else end
    return self._audio[utt.offset + start: utt.offset + end].astype(np.float32) / 32768.0

  def seconds(self, split=None):
    spk = set(self.splits[split]) if split else None
    return sum(u.length for u in self.utterances
               if spk is None or u.speaker in spk) / self.sample_rate


def open_bank(path):
  return Bank(path)


def write_manifest(path, manifest):
  """Atomically write manifest.json: it is the mark of a complete bank."""
  manifest = dict(manifest, version=VERSION)
  tmp = os.path.join(path, MANIFEST + ".tmp")
  with open(tmp, "w") as f:
    json.dump(manifest, f)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, os.path.join(path, MANIFEST))


def split_speakers(speakers, val_fraction, test_fraction, seed=0):
  """Deterministic speaker-disjoint split. Each non-zero fraction gets at least one speaker."""
  speakers = sorted(set(speakers))
  order = np.random.default_rng(seed).permutation(len(speakers))
  speakers = [speakers[i] for i in order]
  n = len(speakers)
  n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
  n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
  if n - n_val - n_test < 1:
    raise BankError(f"{n} speaker(s) cannot be split into train/val/test "
                    f"(val {val_fraction}, test {test_fraction}); need more speakers")
  return {"test": sorted(speakers[:n_test]), "val": sorted(speakers[n_test:n_test + n_val]),
          "train": sorted(speakers[n_test + n_val:])}
