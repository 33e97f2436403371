"""Real labelled recordings as a training source (docs/design.md, "Data").

A folder of long recordings with references, NAME.wav (any format audio.py reads) + NAME.rttm
(+ NAME.uem), is indexed once (`index`: durations, each speaker's turns merged, the regions a
chunk may come from) and bad input is refused with one line naming the file. Chunk `index` of
the stream `seed` is a pure function of (seed, index) (`Source.chunk`): a recording, weighted by
its usable time; a span of max_secs inside one UEM region (never outside it); its turns clipped
to the span. A `data.prompt_prob` share is prompted as `mixtures.make_prompted` builds them, with
`prompt.py`: clips of the chunk's speakers cut from other stretches of the same recording where
that speaker talks alone. Only the samples a chunk uses are read from disk.

A chunk is a `mixtures.Mixture`, so `pipeline.to_example` gives it the targets synthetic chunks
get (letters in arrival order, frame targets): identical by construction. Recordings are split
train/val by a seeded hash of their name, so validation never sees a training recording and
adding files moves none between the splits.
"""
import dataclasses
import functools
import logging
import math
import os
import zlib

import numpy as np

from drzjax import audio as audio_lib
from drzjax import intervals
from drzjax import prompt as prompt_lib
from drzjax import rttm
from drzjax.data import mixtures

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aiff", ".aif", ".sph")
END_SLACK_SECS = 0.5  # references may round a last turn past the audio's end; more is an error
MAX_DRAWS = 100       # redraws of one chunk whose speakers do not fit the slots, then an error
MIN_CLIP_SECS = 0.3   # a prompt clip comes from a solo stretch at least this long
REAL_STREAM = 3       # np.random streams [seed, index, k]: mixtures uses k = 1 and 2


class RealDataError(ValueError):
  """Recordings that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class RealConfig:
  """The data.real_* settings (configs/base.py)."""
  dir: str = ""
  weight: float = 0.0        # share of training chunks drawn from the recordings
  val_fraction: float = 0.1  # share of recordings kept for validation (by a hash of the name)
  seed: int = 0              # of the train/val split: config.seed

  @classmethod
  def from_config(cls, config):
    d = config.data
    if not 0.0 <= d.real_weight <= 1.0:
      raise ValueError(f"data.real_weight={d.real_weight} must be a share in [0, 1]")
    if not 0.0 <= d.real_val_fraction < 1.0:
      raise ValueError(f"data.real_val_fraction={d.real_val_fraction} must be in [0, 1)")
    if d.real_weight > 0 and not d.real_dir:
      raise ValueError(f"data.real_weight={d.real_weight} needs data.real_dir=DIR (a folder of "
                       "NAME.wav + NAME.rttm)")
    return cls(os.path.abspath(os.path.expanduser(d.real_dir)) if d.real_dir else "",
               float(d.real_weight), float(d.real_val_fraction), int(config.seed))


@dataclasses.dataclass(frozen=True)
class Recording:
  uri: str
  path: str
  rate: int          # the file's sample rate
  secs: float
  segments: tuple    # ((start, end, speaker), ...): each speaker's turns merged, sorted
  regions: tuple     # ((start, end), ...): where chunks are cut (UEM within the audio)
  solo: tuple        # ((start, end, speaker), ...): one speaker alone, inside the regions

  @property
  def speakers(self):
    return sorted({w for _, _, w in self.segments})

  @property
  def usable_secs(self):
    return sum(b - a for a, b in self.regions)


def split_of(uri, seed, val_fraction):
  """"train" or "val": a hash of (seed, uri), so a recording's split never depends on the
  others in the folder."""
  return "val" if zlib.crc32(f"{seed}:{uri}".encode()) / 2 ** 32 < val_fraction else "train"


def _subtract(a, b):
  """Sorted disjoint intervals a minus the union of sorted disjoint intervals b."""
  out = []
  for s, e in a:
    for bs, be in b:
      if be <= s or bs >= e:
        continue
      if bs > s:
        out.append((s, bs))
      s = max(s, be)
      if s >= e:
        break
    if e > s:
      out.append((s, e))
  return out


def _intersect(a, b):
  return [(max(s, bs), min(e, be)) for s, e in a for bs, be in b if min(e, be) > max(s, bs)]


def _solo(segments, regions):
  """Stretches where one speaker talks and nobody else does, inside the regions."""
  by = {}
  for s, e, w in segments:
    by.setdefault(w, []).append((s, e))
  out = []
  for w, mine in by.items():
    others = intervals.merge(iv for v, ivs in by.items() if v != w for iv in ivs)
    out += [(s, e, w) for s, e in _intersect(_subtract(mine, others), regions)]
  return tuple(sorted(out))


def _ms(t, lo, hi):
  """t on whole milliseconds inside [lo, hi] where there is one, so the span a chunk names (in
  Mixture.channel) is exactly the one it was cut from."""
  t = min(max(round(float(t), 3), math.ceil(lo * 1000) / 1000), math.floor(hi * 1000) / 1000)
  return t if lo <= t <= hi else float(lo)


def _audio_files(folder):
  found = {}
  for name in sorted(os.listdir(folder)):
    stem, ext = os.path.splitext(name)
    path = os.path.join(folder, name)
    if ext.lower() in AUDIO_EXTS and os.path.isfile(path):
      if stem in found:
        raise RealDataError(f"{path}: a second audio file for recording {stem!r} (also "
                            f"{os.path.basename(found[stem])}); keep one")
      found[stem] = path
  return found


def _references(folder, audio):
  """{uri: (segments, rttm path)} from every *.rttm of the folder, each uri with its audio."""
  refs = {}
  for name in sorted(os.listdir(folder)):
    if not name.endswith(".rttm"):
      continue
    path = os.path.join(folder, name)
    got = rttm.read_rttm(path) or {name[:-len(".rttm")]: []}  # no turns: a silent recording
    for uri, segs in got.items():
      if uri not in audio:
        raise RealDataError(f"{path}: names recording {uri!r}, but {folder} has no audio file "
                            f"{uri}.wav (or {', '.join(AUDIO_EXTS[1:4])}, ...)")
      refs.setdefault(uri, ([], path))[0].extend(segs)
  return refs


def _recording(uri, path, segs, rttm_path, min_secs):
  try:
    info = audio_lib.audio_info(path)
  except audio_lib.AudioError as e:
    raise RealDataError(str(e)) from None
  secs = info.seconds
  if not secs > 0:
    raise RealDataError(f"{path}: empty audio, or a format whose length cannot be read; "
                        "convert it to wav or flac")
  for s, e, w in segs:
    if e > secs + END_SLACK_SECS:
      raise RealDataError(f"{rttm_path}: speaker {w}'s turn {s:.2f}-{e:.2f} s of {uri} ends past "
                          f"the end of {os.path.basename(path)} ({secs:.2f} s)")
  segments = tuple(intervals.merge_by_label((s, min(e, secs), w) for s, e, w in segs))
  uem_path = os.path.splitext(path)[0] + ".uem"
  if os.path.exists(uem_path):
    regions = intervals.merge((max(a, 0.0), min(b, secs))
                              for a, b in rttm.read_uem(uem_path).get(uri, []))
    if not regions:
      raise RealDataError(f"{uem_path}: covers nothing of recording {uri} (0-{secs:.2f} s)")
    where = uem_path
  else:
    regions, where = [(0.0, secs)], path
  usable = [(a, b) for a, b in regions if b - a >= min_secs]
  if not usable:
    raise RealDataError(f"{where}: no stretch of data.min_secs={min_secs:g} s to cut a chunk "
                        f"from (the longest is {max(b - a for a, b in regions):.2f} s)")
  return Recording(uri, path, info.sample_rate, secs, segments, tuple(usable),
                   _solo(segments, usable))


@functools.lru_cache(maxsize=4)
def index(folder, min_secs):
  """Every recording of `folder` -> tuple of Recording, sorted by name. Raises RealDataError
  (or rttm.FormatError) naming the file for every kind of bad input."""
  if not os.path.isdir(folder):
    raise RealDataError(f"{folder}: no such directory (data.real_dir)")
  audio = _audio_files(folder)
  refs = _references(folder, audio)
  if not audio:
    raise RealDataError(f"{folder}: no recordings (NAME.wav + NAME.rttm) in this directory")
  for uri, path in audio.items():
    if uri not in refs:
      raise RealDataError(f"{path}: audio with no reference (no {uri}.rttm, and no RTTM in "
                          f"{folder} names {uri})")
  return tuple(_recording(uri, path, *refs[uri], min_secs) for uri, path in audio.items())


def is_real(seed, index, weight):
  """Whether chunk `index` of the stream comes from the recordings: a pure function of
  (seed, index), so a resumed run sees the stream an uninterrupted one would."""
  return weight > 0 and \
      np.random.default_rng([int(seed), int(index), REAL_STREAM]).random() < weight


def is_prompted(seed, index, prompt_prob):
  """The prompted share, drawn as mixtures.make draws it for synthetic chunks."""
  return prompt_prob > 0 and \
      np.random.default_rng([int(seed), int(index), 1]).random() < prompt_prob


class Source:
  """Chunks of one split's recordings. Picklable (grain workers): it holds no open file."""

  def __init__(self, cfg, split, mix, slots):
    recs = index(cfg.dir, mix.min_secs)
    self.folder, self.split, self.mix, self.slots = cfg.dir, split, mix, slots
    self.recordings = [r for r in recs if split_of(r.uri, cfg.seed, cfg.val_fraction) == split]
    if split == "train" and not self.recordings:
      raise RealDataError(f"{cfg.dir}: all {len(recs)} recording(s) fell in the validation "
                          f"split; lower data.real_val_fraction={cfg.val_fraction:g}")
    secs = np.array([r.usable_secs for r in self.recordings])
    self.p = secs / secs.sum() if len(secs) else secs
    self.drawn = self.skipped = 0

  def describe(self):
    hours = sum(r.usable_secs for r in self.recordings) / 3600
    return (f"real recordings ({self.split}): {self.folder}: {len(self.recordings)} recordings, "
            f"{hours:.2f} h usable, up to "
            f"{max((len(r.speakers) for r in self.recordings), default=0)} speakers each")

  def chunk(self, seed, index):
    """Chunk `index` of the stream `seed`: a mixtures.Mixture of real audio and its turns."""
    prompted = is_prompted(seed, index, self.mix.prompt_prob)
    for attempt in range(MAX_DRAWS):
      rng = np.random.default_rng([int(seed), int(index), REAL_STREAM, attempt])
      self.drawn += 1
      m = self._draw(rng, prompted)
      if m is not None:
        return m
    raise RealDataError(f"{self.folder}: {MAX_DRAWS} chunks drawn in a row each had more "
                        f"speakers than the model's {self.slots} slots (tokens.speaker_slots)")

  def _skip(self, rec, t0, t1, n):
    self.skipped += 1
    if self.skipped & (self.skipped - 1) == 0:  # 1, 2, 4, ...: says how often, not every time
      logging.warning("%s: a chunk (%.1f-%.1f s) has %d speakers, more than the model's %d slots: "
                      "skipped and redrawn (%d of %d chunks drawn so far)", rec.path, t0, t1, n,
                      self.slots, self.skipped, self.drawn)

  def _draw(self, rng, prompted):
    """One try: a Mixture, or None when the chunk's speakers do not fit the slots."""
    mix, sr = self.mix, self.mix.sample_rate
    rec = self.recordings[int(rng.choice(len(self.recordings), p=self.p))]
    n_prompt, per, length, budget = 0, 0.0, mix.max_secs, mix.max_segments
    if prompted:  # as make_prompted: 1..N known voices (at most slots - 1, as diarize)
      hi = min(self.slots - 1, max(mix.num_speakers, len(rec.speakers)))
      n_prompt = int(rng.integers(1, hi + 1))
      per = prompt_lib.clip_secs(mix.max_secs, n_prompt)
      length = mix.max_secs - n_prompt * (per + prompt_lib.SILENCE_SECS)
      budget -= n_prompt
    lengths = np.array([b - a for a, b in rec.regions])
    a, b = rec.regions[int(rng.choice(len(lengths), p=lengths / lengths.sum()))]
    length = min(length, b - a)
    t0 = _ms(rng.uniform(a, max(a, b - length)), a, b - length)  # b - (b - a) may be < a
    t1 = t0 + length
    segs = sorted((max(s, t0) - t0, min(e, t1) - t0, w) for s, e, w in rec.segments
                  if e > t0 and s < t1)
    if len(segs) > budget:  # more turns than labels: the chunk ends where the budget does
      t1 = t0 + segs[budget][0]
      segs = [(s, min(e, t1 - t0), w) for s, e, w in segs[:budget] if s < t1 - t0]
    arrival = list(dict.fromkeys(w for _, _, w in segs))
    if len(arrival) > self.slots:
      self._skip(rec, t0, t1, len(arrival))
      return None
    if t1 - t0 < 1.0 / sr:
      return None
    audio = self._read(rec, t0, t1)
    channel = (f"real {rec.uri} {t0:.3f}-{t1:.3f} s",)
    if not prompted:
      return mixtures.Mixture(audio, segs, arrival, channel=channel)
    # Known voices: a random order of the chunk's voices, and one of the recording's other
    # voices that stays silent when more are asked for than the chunk has (make_prompted's rule).
    order = [arrival[int(k)] for k in rng.permutation(len(arrival))][:n_prompt]
    rest = [w for w in rec.speakers if w not in arrival]
    if n_prompt > len(order) and rest and len(arrival) < self.slots:
      order.append(rest[int(rng.integers(len(rest)))])
    clips, names = [], []
    for w in order:
      # Where w talks alone, away from the chunk, at least MIN_CLIP_SECS long.
      where = [(s, e) for s, e, v in rec.solo if v == w and e - s >= MIN_CLIP_SECS
               and (e <= t0 or s >= t1)]
      if not where:
        continue  # no clean clip of this voice: it stays unprompted (a new letter)
      w_len = np.array([e - s for s, e in where])
      s, e = where[int(rng.choice(len(where), p=w_len / w_len.sum()))]
      n = math.floor(min(per, e - s) * 1000) / 1000
      c0 = _ms(rng.uniform(s, max(s, e - n)), s, e - n)
      clips.append(self._read(rec, c0, c0 + n))
      names.append(w)
      channel += (f"prompt {w} {c0:.3f}-{c0 + n:.3f} s",)
    head, spans = prompt_lib.layout(clips, sr)
    p = len(head) / sr
    out = np.concatenate([head, audio])[:int(round(mix.max_secs * sr))]
    end = len(out) / sr
    segments = [(s, e, w) for (s, e), w in zip(spans, names)]
    segments += [(s + p, min(e + p, end), w) for s, e, w in segs if s + p < end]
    speakers = list(dict.fromkeys(names + arrival))
    return mixtures.Mixture(out, sorted(segments), speakers, prompt=len(clips), channel=channel)

  def _read(self, rec, t0, t1):
    try:
      return audio_lib.read_span(rec.path, t0, t1, self.mix.sample_rate, rec.rate)
    except audio_lib.AudioError as e:
      raise RealDataError(str(e)) from None
