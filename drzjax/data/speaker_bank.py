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

from drzjax import files

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
  source: int = 0      # which bank of a MultiBank holds its audio


def _utterance(u):
  """A manifest entry -> Utterance, checking what the mixer relies on."""
  regions = np.asarray(u["regions"], np.int64)
  utt = Utterance(str(u["speaker"]), str(u["file"]), int(u["offset"]), int(u["length"]),
                  regions.reshape(-1, 2) if regions.size else regions.reshape(0, 2))
  r = utt.regions
  if (regions.ndim != 2 and regions.size) or utt.offset < 0 or utt.length < 0 or \
      (r.size and (r.min() < 0 or r.max() > utt.length or np.any(r[:, 1] <= r[:, 0]))):
    raise ValueError(f"utterance {utt.file!r}: offset {utt.offset}, length {utt.length}, "
                     f"regions must be [start, end) pairs inside it")
  return utt


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
    if not isinstance(m, dict):
      raise BankError(f"{mpath}: malformed manifest (not a JSON object)")
    if m.get("version") != VERSION:
      raise BankError(f"{mpath}: bank version {m.get('version')}, expected {VERSION}")
    self.manifest = m
    try:
      self.sample_rate = int(m["sample_rate"])
      self.utterances = [_utterance(u) for u in m["utterances"]]
      self.splits = {s: [str(x) for x in m["splits"].get(s, [])] for s in SPLITS}
    except KeyError as e:
      raise BankError(f"{mpath}: malformed manifest (no {e} key)") from None
    except (TypeError, ValueError, AttributeError) as e:
      raise BankError(f"{mpath}: malformed manifest ({e})") from None
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

  def probabilities(self, speakers):
    """Per-speaker draw probabilities for `speakers`; None = uniform."""
    return None


class MultiBank:
  """Several banks read as one, speakers drawn with per-bank weights (docs/design.md, "Data").

  Speaker names become "<bank dir name>/<speaker>", so voices of different banks never share a
  name and a mixture may combine them. A bank's weight is shared by its speakers: with weights
  (1, 1), half of the voices drawn come from each bank, however many speakers each holds.
  """

  def __init__(self, paths, weights=()):
    self.banks = [Bank(p) for p in paths]
    weights = tuple(weights) or tuple(1.0 for _ in paths)
    if len(weights) != len(paths) or any(not w >= 0 for w in weights) or not sum(weights) > 0:
      raise BankError(f"bank weights {','.join(map(str, weights))}: need one non-negative weight "
                      f"per bank ({len(paths)}), not all zero")
    rates = {b.sample_rate for b in self.banks}
    if len(rates) > 1:
      raise BankError(f"banks {', '.join(b.path for b in self.banks)} have different sample "
                      f"rates {sorted(rates)}")
    self.path = ",".join(b.path for b in self.banks)
    self.sample_rate = self.banks[0].sample_rate
    names = [os.path.basename(b.path) for b in self.banks]
    if len(set(names)) < len(names):
      names = [f"{k}-{n}" for k, n in enumerate(names)]
    self.weights, self.utterances, self.by_speaker, self._bank_of = weights, [], {}, {}
    self.splits = {s: [] for s in SPLITS}
    for k, (b, name) in enumerate(zip(self.banks, names)):
      for u in b.utterances:
        spk = f"{name}/{u.speaker}"
        self.by_speaker.setdefault(spk, []).append(len(self.utterances))
        self.utterances.append(dataclasses.replace(u, speaker=spk, source=k))
        self._bank_of[spk] = k
      for s in SPLITS:
        self.splits[s] += [f"{name}/{x}" for x in b.splits[s]]

  speakers = Bank.speakers
  utterances_of = Bank.utterances_of

  def audio(self, utt, start=0, end=None):
    return self.banks[utt.source].audio(utt, start, end)

  def probabilities(self, speakers):
    per_bank = np.bincount([self._bank_of[s] for s in speakers], minlength=len(self.banks))
    p = np.array([self.weights[self._bank_of[s]] / per_bank[self._bank_of[s]] for s in speakers])
    if not p.sum() > 0:
      raise BankError(f"{self.path}: every bank with speakers here has weight 0")
    return p / p.sum()


def open_bank(path, weights=()):
  """A Bank, or a MultiBank when `path` lists several bank directories separated by commas."""
  paths = [p for p in path.split(",") if p]
  if len(paths) == 1 and not weights:
    return Bank(paths[0])
  return MultiBank(paths, weights)


def write_manifest(path, manifest):
  """Atomically write manifest.json: it is the mark of a complete bank."""
  with files.atomic_write(os.path.join(path, MANIFEST), fsync=True) as f:
    json.dump(dict(manifest, version=VERSION), f)


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
