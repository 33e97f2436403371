"""Diarize audio files to RTTM (docs/design.md, "Decoding"): `python -m drzjax.diarize [--workdir=DIR] a.wav ...`.

Long audio is read in chunks of the model's max_secs. From the second chunk on (and from the
first when speakers are enrolled) the chunk is prefixed by a prompt: a few seconds of each known
speaker's audio, each followed by a short silence, and the decoder is forced to emit their
triplets (letter k for prompt speaker k) before it reads the new audio. The letters it then
writes for the new audio keep their identity across chunks; a letter beyond the prompt is a new
speaker. Segments cut by a chunk boundary are joined. The file is streamed from disk, so its
length is not bounded by memory.

  python -m drzjax.diarize --workdir=runs/base meeting.wav --out=rttm/ --plot
  python -m drzjax.diarize meeting.wav --plot --ref=meeting.rttm   # reference lanes above
  python -m drzjax.diarize a.wav b.flac --num-speakers=2 --beam=4
  python -m drzjax.diarize call.wav --enroll alice=alice.wav --enroll bob=bob.wav

Python:
  d = Diarizer.from_workdir("runs/base")
  result = d("meeting.wav", num_speakers=2)   # .segments [(start, end, name)], .annotation
  result = d("call.wav", enroll={"alice": ["alice1.wav", "alice2.wav"], "bob": "bob.wav"})
"""
import argparse
import bisect
import dataclasses
import logging
import math
import os
import stat
import sys
import time

import numpy as np

from drzjax import audio as audio_lib
from drzjax import files
from drzjax import intervals
from drzjax import linking as linking_lib
from drzjax import logs
from drzjax import prompt as prompt_lib
from drzjax import tokens
from drzjax.data import vad

DECODERS = ("tokens", "frames")
# How letters keep their identity from chunk to chunk: "prompts" (each chunk opens with clips of
# the known voices), "embeddings" (chunks decoded alone, letters joined by speaker embeddings,
# drzjax/linking.py) or "both" (prompts, then embeddings join what the prompts split).
LINKINGS = ("prompts", "embeddings", "both")
DEFAULT_LINKING = "embeddings"


@dataclasses.dataclass
class Diarization:
  uri: str
  duration: float
  segments: list  # [(start_s, end_s, speaker name)] sorted

  @property
  def annotation(self):
    """A pyannote.core.Annotation (needs pyannote.core installed)."""
    from pyannote.core import Annotation, Segment  # noqa: PLC0415
    ann = Annotation(uri=self.uri)
    for i, (s, e, who) in enumerate(self.segments):
      ann[Segment(s, e), i] = who
    return ann


@dataclasses.dataclass
class _Speaker:
  name: str
  clip: np.ndarray  # prompt audio


class _Stream:
  """Pull n samples at a time from a file (streamed block by block) or an in-memory array."""

  def __init__(self, source, sample_rate, block):
    if isinstance(source, np.ndarray):
      self._blocks = iter([np.asarray(source, np.float32)])
    else:
      self._blocks = audio_lib.iter_audio_chunks(source, block, sample_rate)
    self._buf = np.zeros(0, np.float32)
    self._eof = False

  def _fill(self, n):
    while len(self._buf) < n and not self._eof:
      try:
        self._buf = np.concatenate([self._buf, next(self._blocks)])
      except StopIteration:
        self._eof = True

  def take(self, n):
    self._fill(n)
    out, self._buf = self._buf[:n], self._buf[n:]
    return out

  def exhausted(self):
    self._fill(1)
    return not len(self._buf)


class _SpeechTrack:
  """The segmentation network's speech regions of a streamed file (`fill`), cut at the end from
  per-frame P(speech) on the file-wide frame grid of nets/segmentation.py.

  With the tokens decoder and a model whose front end holds segmentation-3.0 (model.frontend
  "mel+seg", the shipped model), the decoder already runs the network over every chunk it
  decodes and returns its P(speech) with the labels (`speech`; decode.decode's return_speech):
  the filling costs nothing. A chunk not decoded (silent to the energy detector) holds no
  speech. Otherwise data/neural_vad.Stream runs the network's own 10 s windows every 5 s as the
  chunks arrive (`add`), about a third of diarize's time on the shipped model. Measured on
  ami-dev against the reference's speech (MODEL.md, "Who is who"): the decoder's chunks 93.9%,
  plus a window across each chunk boundary 94.4%, the standalone windows 94.4% on average over
  ten grid offsets (95.9% at the 1 s offset chosen on these files, 92.0-95.1% at the nine
  others); on conversations of real test voices the DER is the same within 0.3 points."""

  def __init__(self, sample_rate, from_decoder):
    self.sr = sample_rate
    self.stream = None
    if not from_decoder:
      from drzjax.data import neural_vad  # noqa: PLC0415 - jax only when diarizing
      self.stream = neural_vad.Stream()
    self.samples = 0
    self.last = (0, 0)
    self.pieces = []   # (file sample where the chunk starts, its length, prompt samples, P)
    self.regions = []
    # Short pauses stay pauses: bridging them (the bank detector's 0.3 s) added false alarms
    # between the words of conversations and helped nowhere (MODEL.md, "Linking").
    self.vad_kw = {"min_gap": 0.1, "pad": 0.0}

  def add(self, chunk):
    if self.stream is not None:
      self.stream.add(chunk)
    self.last = (self.samples, len(chunk))
    self.samples += len(chunk)

  def speech(self, head, prob):
    """The decoder's P(speech) for the chunk last added, whose audio starts `head` prompt
    samples into the decoded wave."""
    self.pieces.append((*self.last, head, np.asarray(prob, np.float32)))

  def probability(self):
    """(F,) P(speech) on the file-wide frame grid: each frame from the decoded wave's frame
    centred nearest to it; 0 in chunks not decoded."""
    from drzjax.nets import segmentation as seg  # noqa: PLC0415
    if self.samples < seg.RECEPTIVE_FIELD:
      return np.zeros(0, np.float32)
    half = seg.RECEPTIVE_FIELD // 2
    centre = np.arange(seg.num_frames(self.samples)) * seg.FRAME_STEP + half
    prob = np.zeros(len(centre), np.float32)
    for start, n, head, p in self.pieces:
      f = np.flatnonzero((centre >= start) & (centre < start + n))
      j = np.rint((centre[f] - start + head - half) / seg.FRAME_STEP).astype(np.int64)
      prob[f] = p[np.clip(j, 0, len(p) - 1)]
    return prob

  def finish(self):
    from drzjax.data import neural_vad  # noqa: PLC0415
    prob = self.stream.finish() if self.stream is not None else self.probability()
    self.regions = [(a / self.sr, b / self.sr) for a, b in neural_vad.regions_from_probability(
        prob, self.samples, self.sr, **self.vad_kw)]


def clip_segments(segments, duration):
  """Any (start, end, name) -> sorted [(start, end, name)] with 0 <= start < end <= duration.

  Whatever the decoder wrote (an undertrained model, a segment in a short chunk's zero padding)
  becomes a turn inside the audio: both ends are clipped (clipping only the end can leave
  end < start), and what is then empty or not a number is dropped.
  """
  out = []
  for s, e, who in segments:
    s, e = float(s), float(e)
    if math.isnan(s) or math.isnan(e):
      continue
    s, e = max(0.0, s), min(e, float(duration))
    if s < e:
      out.append((s, e, who))
  return sorted(out, key=lambda x: (x[0], x[1], str(x[2])))


def fill_speech(segments, speech, min_secs=0.1):
  """Speech the decoder left without a speaker -> its nearest speaker in time.

  segments: [(start, end, name)]; speech: [(start, end)] from the segmentation network
  (data/neural_vad.py). Each stretch of `speech` of at least min_secs that no segment covers
  becomes a segment of the speaker whose segment is nearest to its middle. The decoder misses
  about a fifth of real meeting speech that this network hears (MODEL.md, "Linking"); nothing
  is added to a file where the decoder heard nobody."""
  if not segments:
    return segments
  # Sorted, disjoint: the pieces near a stretch are found by bisection, and the nearest speaker
  # by numpy, so hours of audio stay linear (first-minimum ties as `min` over the list).
  covered = intervals.merge((s, e) for s, e, _ in segments)
  cover_starts, cover_ends = [s for s, _ in covered], [e for _, e in covered]
  seg_starts = np.array([t[0] for t in segments])
  seg_ends = np.array([t[1] for t in segments])
  out = list(segments)
  for a, b in speech:
    i = bisect.bisect_right(cover_ends, a)
    j = bisect.bisect_left(cover_starts, b, lo=i)
    for x, y in intervals.subtract((a, b), covered[i:j]):
      if y - x >= min_secs:
        mid = (x + y) / 2
        near = int(np.argmin(np.maximum(np.maximum(seg_starts - mid, mid - seg_ends), 0.0)))
        out.append((x, y, segments[near][2]))
  return sorted(out, key=lambda x: (x[0], x[1], str(x[2])))


def _join(segments, gap):
  """Merge one speaker's segments that touch or are within `gap` (a chunk boundary cut)."""
  return intervals.merge_by_label(segments, gap)


def _clean_clip(chunk, sr, segs, letter, secs):
  """The longest stretch of `letter` not overlapped by anyone else, at most `secs` long."""
  mine = [(s, e) for s, e, k in segs if k == letter]
  others = [(s, e) for s, e, k in segs if k != letter]
  best = (0.0, 0.0)
  for s, e in mine:
    for os_, oe in others:  # trim the part overlapped by another speaker
      if os_ < e and oe > s:
        if os_ > s:
          e = min(e, os_)
        else:
          s = max(s, oe)
    if e - s > best[1] - best[0]:
      best = (s, e)
  a, b = int(best[0] * sr), int(min(best[1], best[0] + secs) * sr)
  return chunk[a:b].copy()


class Diarizer:
  """A trained model plus the chunking logic. Call it on a path or a 16 kHz float array."""

  def __init__(self, model, params, config, decoder="tokens", linking=DEFAULT_LINKING,
               fill=True):
    if decoder not in DECODERS:
      raise ValueError(f"decoder={decoder!r}: choose one of {DECODERS}")
    if linking not in LINKINGS:
      raise ValueError(f"linking={linking!r}: choose one of {LINKINGS}")
    self.model, self.params, self.config, self.decoder = model, params, config, decoder
    self.linking = linking
    self.fill = fill  # give speech the decoder left unlabelled to its nearest speaker
    self.step = 0
    self.vocab = model.cfg.vocab
    self.sr = model.cfg.sample_rate
    self._campp = None

  def campp(self):
    """The CAM++ speaker embedder's variables, loaded at first use."""
    if self._campp is None:
      from drzjax.nets import campplus  # noqa: PLC0415
      self._campp = campplus.load()
    return self._campp

  @classmethod
  def from_workdir(cls, workdir):
    from drzjax import runs  # noqa: PLC0415 - keep `--help` and argument errors fast
    config, model, params, step = runs.load(workdir)
    d = cls(model, params, config)
    d.step = step
    return d

  @classmethod
  def pretrained(cls, path=None):
    """The model shipped in the repo (drzjax/pretrained/base, see MODEL.md), or an export."""
    import jax  # noqa: PLC0415
    from drzjax import export  # noqa: PLC0415
    from drzjax import model as model_lib  # noqa: PLC0415
    path = path or export.DEFAULT_DIR
    config, params, meta = export.load(path)
    model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
    d = cls(model, jax.device_put(params), config)  # not jnp.asarray: see convert.load_tree
    d.step = meta.get("step", 0)
    logging.info("loaded the %s %s model from %s (step %d)",
                 "shipped" if path == export.DEFAULT_DIR else "exported", config.variant, path,
                 d.step)
    return d

  @classmethod
  def load(cls, workdir=None):
    """A training run's newest checkpoint, an exported model (a directory holding params.npz,
    `python -m drzjax.export`), or the shipped model when workdir is None."""
    if workdir is None or os.path.isfile(os.path.join(workdir, "params.npz")):
      return cls.pretrained(workdir)
    return cls.from_workdir(workdir)

  def _speech_from_decoder(self):
    """Whether the decoder's pass gives the filling its speech probabilities (_SpeechTrack)."""
    return self.decoder == "tokens" and "seg" in self.model.cfg.nets

  def _decode(self, wave, forced, num_speakers, min_speakers, max_speakers, beam, speech=False):
    """One chunk -> its segments (and, with `speech`, the front end's P(speech))."""
    from drzjax import decode  # noqa: PLC0415
    kw = dict(num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers)
    kw = {k: min(v, self.vocab.speakers) for k, v in kw.items()}
    if self.decoder == "frames":
      # The frame head's slots are in arrival order, so prompt speaker k is slot k, as the
      # forced letter k is for the tokens.
      return decode.frame_segments(self.params, self.model, wave[None],
                                   max_speakers=kw["max_speakers"] or kw["num_speakers"])[0][0]
    if beam > 1:
      kw.update(mode="beam", beam=beam)
    f = np.asarray(forced, np.int32)[None] if len(forced) else None
    out = decode.decode(self.params, self.model, wave[None], forced=f, return_speech=speech, **kw)
    ids, prob = out if speech else (out, None)
    segs, _ = tokens.to_segments(ids[0], self.vocab)
    return (segs, prob[0]) if speech else segs

  def __call__(self, source, num_speakers=0, min_speakers=0, max_speakers=0, beam=1,
               enroll=(), uri=None, linking=None):
    """Diarize a file path (streamed) or a float32 16 kHz mono array -> Diarization.

    enroll: {name: clip path, array or a list of them} or [(name, path or array)]: known voices,
    named in the output. linking: one of LINKINGS (default: the Diarizer's)."""
    linking = linking or self.linking
    if linking not in LINKINGS:
      raise ValueError(f"linking={linking!r}: choose one of {LINKINGS}")
    enroll = enrollment_pairs(enroll, self.sr)
    if uri is None:
      uri = (os.path.splitext(os.path.basename(source))[0] if isinstance(source, str)
             else "audio")
    segments, units, speech, duration = self.chunks(
        source, num_speakers, min_speakers, max_speakers, beam, enroll, linking)
    if linking != "prompts":
      segments = self.link(segments, units, enroll, num_speakers, min_speakers, max_speakers)
    return Diarization(uri, duration, self.finish(segments, speech, duration))

  def finish(self, segments, speech, duration):
    """File-level segments (after `link`) -> the output's: speech the decoder left unlabelled
    filled (with `fill`), clipped to the file, a speaker's turns cut by a chunk joined."""
    if self.fill:
      segments = fill_speech(segments, speech)
    return _join(clip_segments(segments, duration), 2 * self.vocab.bin_secs)

  def chunks(self, source, num_speakers=0, min_speakers=0, max_speakers=0, beam=1, enroll=(),
             linking="prompts"):
    """The chunk loop -> (segments [(start, end, label)], linking.Unit per voice per chunk,
    speech regions [(start, end)] by the segmentation network (with `fill`), seconds read).
    Labels are speaker names for linking="prompts", else (chunk, name) keys for `link`."""
    use_prompts, use_embeddings = linking != "embeddings", linking != "prompts"
    n_chunk = self.model.cfg.num_samples
    stream = _Stream(source, self.sr, n_chunk)
    # A name enrolled with several clips is prompted with its longest.
    clips = {}
    for name, clip in enroll:
      if len(clip) > len(clips.get(name, ())):
        clips[name] = clip
    known = [_Speaker(name, clip) for name, clip in clips.items()] if use_prompts else []
    new_names = iter(tokens.letter(i) for i in range(10 ** 6))
    slots = self.vocab.speakers
    segments, units, t0, n = [], [], 0.0, 0
    from_decoder = self.fill and self._speech_from_decoder()
    track = _SpeechTrack(self.sr, from_decoder) if self.fill else None
    one_chunk_total = None
    while not stream.exhausted():
      # ---- The prompt: known speakers (most recently heard last), then the new audio ----
      prompt_spk = known[-(slots - 1):] if len(known) >= slots else known
      head, forced = prompt_lib.build([spk.clip for spk in prompt_spk],
                                      self.model.cfg.max_secs, self.sr, self.vocab)
      chunk = stream.take(n_chunk - len(head))
      if one_chunk_total is None:
        one_chunk_total = stream.exhausted()
      p_secs = len(head) / self.sr
      if self.fill:
        track.add(chunk)
      if len(vad.speech_regions(chunk, self.sr)) == 0:  # silence: nothing to say, no decode
        t0 += len(chunk) / self.sr
        continue
      wave = np.concatenate([head, chunk]) if prompt_spk else chunk
      # Exact speaker counts only make sense when the whole file is one chunk.
      if one_chunk_total and not prompt_spk:
        counts = (num_speakers, min_speakers, max_speakers)
      else:
        counts = (0, 0, max(num_speakers, max_speakers))
      # The decoder pads a short last chunk with silence: what it says past the real audio (the
      # prompt plus this chunk) is not in the file, and would spill past the end once offset.
      if from_decoder:
        segs, prob = self._decode(wave, forced, *counts, beam, speech=True)
        track.speech(len(head) if prompt_spk else 0, prob)
      else:
        segs = self._decode(wave, forced, *counts, beam)
      segs = clip_segments(segs, len(wave) / self.sr)
      # ---- Letters -> speakers: k < len(prompt) is prompt speaker k, later letters are new ----
      names = {k: spk.name for k, spk in enumerate(prompt_spk)}
      heard, local, first = [], [], len(segments)
      for s, e, k in segs:
        if e <= p_secs + 1e-6:
          continue  # the forced prompt triplets
        if k not in names:
          names[k] = next(new_names) if use_prompts else k
          if use_prompts:
            clip = _clean_clip(wave, self.sr, segs, k, prompt_lib.PROMPT_SECS)
            known.append(_Speaker(names[k], clip))
        heard.append(names[k])
        # Linking by embeddings labels a segment (chunk, name) until the file's speakers are known.
        key = (n, names[k]) if use_embeddings else names[k]
        local.append((max(s, p_secs) - p_secs, e - p_secs, key))
        segments.append((t0 + max(s, p_secs) - p_secs, t0 + e - p_secs, key))
      if use_embeddings:  # one unit per voice heard in this chunk's new audio, grouped by name
        for name in dict.fromkeys(heard):
          clip, secs = linking_lib.clip_for(chunk, self.sr, local, (n, name))
          emb = linking_lib.embed(self.campp(), clip, self.sr)
          units.append(linking_lib.Unit(
              n, (n, name), name if use_prompts else (n, name), emb, secs,
              linking_lib.segment_parts(self.campp(), chunk, self.sr, local, (n, name), first,
                                        emb)))
      # Most recently heard speakers go last, so they stay in a full prompt.
      order = {nm: i for i, nm in enumerate(heard)}
      known.sort(key=lambda spk: order.get(spk.name, -1))
      t0 += len(chunk) / self.sr
      n += 1
    if self.fill:
      track.finish()
    return segments, units, track.regions if self.fill else [], t0

  def link(self, segments, units, enroll=(), num_speakers=0, min_speakers=0, max_speakers=0,
           threshold=linking_lib.THRESHOLD, enroll_threshold=linking_lib.ENROLL_THRESHOLD,
           refine=True, margin=linking_lib.REFINE_MARGIN):
    """The chunk loop's segments, labelled (chunk, name) -> labelled by file speaker: enrolled
    names where an enrolled voice matches, letters A, B, ... in order of first appearance
    otherwise."""
    # Enrolled voices join the clustering as anchors (one unit each, linking.anchors): letters
    # gather round the voices they sound like, and a cluster holding an anchor takes its name.
    anchors = []
    if enroll:
      enrolled = linking_lib.enrolled_centroids(self.campp(), enroll, self.sr)
      anchors = linking_lib.anchors(enrolled)
    all_units = units + anchors
    all_labels = linking_lib.cluster(all_units, threshold, num_speakers, min_speakers,
                                     max_speakers)
    labels = all_labels[:len(units)]
    named = (linking_lib.name_anchored(all_units, all_labels, enrolled, enroll_threshold)
             if enroll else {})
    letters = iter(tokens.letter(i) for i in range(10 ** 6))
    names = {}
    for c in sorted(set(all_labels)):
      if c not in names:
        names[c] = named.get(c) or next(letters)
    of_key = {u.key: c for u, c in zip(units, labels)}
    moved = linking_lib.refine(all_units, all_labels, margin) if refine else {}
    return [(s, e, names[moved.get(i, of_key[k])]) for i, (s, e, k) in enumerate(segments)]


MIN_ENROLL_SECS = 1.0  # of speech in an enrollment clip


def enrollment_clip(name, path, sample_rate):
  """One enrollment clip: its speech only; ValueError/AudioError naming the file when it cannot
  be read, is silent or holds under MIN_ENROLL_SECS of speech."""
  wave = audio_lib.load_audio(path, sample_rate)
  regions = vad.speech_regions(wave, sample_rate)
  if not len(regions):
    raise ValueError(f"{path}: enrollment clip for {name} has no speech")
  speech = np.concatenate([wave[a:b] for a, b in regions])
  if len(speech) < MIN_ENROLL_SECS * sample_rate:
    raise ValueError(f"{path}: enrollment clip for {name} has {len(speech) / sample_rate:.2f} s "
                     f"of speech; at least {MIN_ENROLL_SECS:g} s needed")
  return speech


def enrollment_pairs(enroll, sample_rate):
  """The Python API's enroll: {name: path, array or a list of them} or [(name, path or array)]
  -> [(name, audio)] (paths read with `enrollment_clip`)."""
  items = enroll.items() if isinstance(enroll, dict) else enroll
  out = []
  for name, clips in items:
    for clip in clips if isinstance(clips, (list, tuple)) else [clips]:
      out.append((name, enrollment_clip(name, clip, sample_rate) if isinstance(clip, str)
                  else np.asarray(clip, np.float32)))
  return out


def load_enrollment(specs, sample_rate):
  """["NAME=clip.wav", ...] -> ([(name, speech-only audio, path)], [problem lines]).

  A spec that is not NAME=clip.wav is a usage error (ValueError). A clip that cannot be read, is
  silent or is too short is left out, with a line naming it: the inputs are still diarized
  with the other voices, and the run exits non-zero."""
  out, problems = [], []
  for spec in specs:
    if "=" not in spec:
      raise ValueError(f"--enroll {spec!r}: expected NAME=clip.wav")
    name, path = spec.split("=", 1)
    if not name or any(c.isspace() for c in name):  # RTTM speaker names are one field
      raise ValueError(f"--enroll {spec!r}: NAME must be non-empty and contain no whitespace")
    try:
      out.append((name, enrollment_clip(name, path, sample_rate), path))
    except (audio_lib.AudioError, ValueError, OSError) as e:
      problems.append(f"{e if path in str(e) else f'{path}: {e}'}; {name} left out")
  return out, problems


def enrollment_conflicts(campp, clips, sample_rate):
  """A name given several clips that do not sound like one voice (the lowest similarity between
  two of them under linking.ENROLL_THRESHOLD): {name: problem line}. clips: [(name, audio,
  path)]."""
  by_name = {}
  for name, audio, path in clips:
    by_name.setdefault(name, []).append((linking_lib.embed(campp, audio, sample_rate), path))
  out = {}
  for name, embs in by_name.items():
    for i in range(len(embs)):
      for j in range(i + 1, len(embs)):
        sim = float(embs[i][0] @ embs[j][0])
        if sim < linking_lib.ENROLL_THRESHOLD and name not in out:
          out[name] = (f"--enroll {name}: {embs[i][1]} and {embs[j][1]} do not sound like one "
                       f"voice (similarity {sim:.2f} < {linking_lib.ENROLL_THRESHOLD}); {name} "
                       "left out")
  return out


def parse_args(argv):
  p = argparse.ArgumentParser(
      prog="python -m drzjax.diarize", description=__doc__.split("\n\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("files", nargs="+", help="audio files (any rate/channels; resampled, downmixed)")
  p.add_argument("--workdir", default=None,
                 help="training run to load (newest checkpoint) or an exported model "
                      "(python -m drzjax.export); default: the model shipped in "
                      "drzjax/pretrained/base (see MODEL.md)")
  p.add_argument("--decoder", choices=DECODERS, default="tokens",
                 help="tokens: the transformer writes start/end/speaker tokens (default); "
                      "frames: the frame head's per-speaker activity, thresholded")
  p.add_argument("--out", default=".", help="directory for <uri>.rttm (and .png)")
  p.add_argument("--num-speakers", type=int, default=0, help="exact number of speakers")
  p.add_argument("--min-speakers", type=int, default=0)
  p.add_argument("--max-speakers", type=int, default=0)
  p.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy)")
  p.add_argument("--plot", action="store_true", help="also write <uri>.png, a timeline")
  p.add_argument("--ref", default=None, metavar="RTTM_OR_DIR",
                 help="with --plot: a reference drawn above the result in each picture (one "
                      "RTTM file, or a directory of RTTMs named like the inputs)")
  p.add_argument("--enroll", action="append", default=[], metavar="NAME=clip.wav",
                 help="a known speaker: their segments are labelled NAME (repeatable; several "
                      "clips of one NAME are averaged)")
  p.add_argument("--linking", choices=LINKINGS, default=DEFAULT_LINKING,
                 help="how speakers keep their identity across chunks: prompts (clips of the "
                      "known voices open each chunk), embeddings (CAM++ speaker embeddings "
                      "join the chunks' letters) or both (default %(default)s)")
  p.add_argument("--no-fill", dest="fill", action="store_false",
                 help="leave speech the decoder gave no speaker unlabelled (default: the "
                      "segmentation network's speech regions go to the nearest speaker)")
  args = p.parse_args(argv)
  if args.num_speakers and (args.min_speakers or args.max_speakers):
    p.error("give --num-speakers, or --min-speakers/--max-speakers, not both")
  for flag in ("num_speakers", "min_speakers", "max_speakers"):
    if getattr(args, flag) < 0:
      p.error(f"--{flag.replace('_', '-')} must be >= 0, got {getattr(args, flag)}")
  if args.max_speakers and args.min_speakers > args.max_speakers:
    p.error(f"--min-speakers={args.min_speakers} is more than --max-speakers={args.max_speakers}")
  if args.beam < 1:
    p.error(f"--beam must be >= 1 (1 = greedy), got {args.beam}")
  if problem := files.dir_problem(args.out, f"--out {args.out}"):
    p.error(problem)
  if args.ref and not args.plot:
    p.error("--ref is drawn in the --plot picture: add --plot")
  return args


def _name_max(directory):
  """The longest file name (bytes) the file system of `directory` (or its nearest existing
  parent) holds."""
  d = os.path.abspath(directory)
  while not os.path.isdir(d) and os.path.dirname(d) != d:
    d = os.path.dirname(d)
  try:
    return os.pathconf(d, "PC_NAME_MAX")
  except (OSError, ValueError):
    return 255


def input_problem(path, uri, out_dir):
  """Why an input cannot be diarized, found before any model is loaded: missing, a directory,
  empty, or a name too long for the file system (its own or its outputs'). None: no problem."""
  try:
    st = os.stat(path)
  except OSError as e:
    return f"{path}: {e.strerror or e}"
  if stat.S_ISDIR(st.st_mode):
    return f"{path}: is a directory, not an audio file"
  if st.st_size == 0:
    return f"{path}: empty file, not audio"
  longest = uri + ".rttm.tmp"  # the atomic RTTM write's temporary name (the PNG's is shorter)
  if len(longest.encode()) > _name_max(out_dir):
    return (f"{path}: its output name {uri}.rttm is too long for the file system of {out_dir} "
            f"({_name_max(out_dir)} bytes with {len(longest.encode()) - len(uri.encode())} "
            "for the extension); rename the input")
  return None


def reference_for(refs, uri, num_inputs):
  """The reference segments (--ref) for the input written as `uri`: the reference of that name,
  or, for a single input, a reference holding a single recording whatever its name. None when
  there is none."""
  if uri in refs:
    return refs[uri]
  if num_inputs == 1 and len(refs) == 1:
    return next(iter(refs.values()))
  return None


def timeline_figure(result, ref=None):
  """The --plot picture: the result's lanes, below the reference's (`ref` segments) if given."""
  from drzjax import plot  # noqa: PLC0415 - matplotlib only when plotting
  tracks = {"": result.segments} if ref is None else {"ref": ref, "hyp": result.segments}
  end = max([result.duration] + [e for _, e, _ in ref or []])
  return plot.timeline(tracks, end, title=result.uri)


def failure_summary(paths, failed):
  """The closing line when `failed` of the inputs `paths` failed."""
  if len(paths) == 1:
    return f"error: {paths[0]} failed (see above)"
  if failed == len(paths):
    return f"error: all {failed} files failed (see above)"
  written = len(paths) - failed
  return (f"error: {failed} of {len(paths)} files failed (see above); the other {written} "
          f"{'was' if written == 1 else 'were'} written")


def output_names(paths):
  """A unique RTTM uri per input: the file name without extension, whitespace replaced (RTTM
  fields are space-separated), and _2, _3 ... where two inputs would share one.
  -> ([uri], [notes to log])."""
  uris, notes, seen = [], [], set()
  for path in paths:
    base = os.path.splitext(os.path.basename(path))[0]
    uri = "_".join(base.split()) or "audio"
    if uri != base:
      notes.append(f"{path}: RTTM names cannot hold spaces; writing it as {uri}")
    if uri in seen:
      n = 2
      while f"{uri}_{n}" in seen:
        n += 1
      notes.append(f"{path}: another input is also named {uri}; writing it as {uri}_{n}")
      uri = f"{uri}_{n}"
    seen.add(uri)
    uris.append(uri)
  return uris, notes


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  logs.setup()
  from drzjax import rttm  # noqa: PLC0415
  # Everything that can be checked without the model first: loading it takes seconds.
  uris, notes = output_names(args.files)
  for note in notes:
    logging.warning("%s", note)
  problems = [input_problem(path, uri, args.out) for path, uri in zip(args.files, uris)]
  if all(problems):
    if len(problems) == 1:
      sys.exit(f"error: {problems[0]}")
    for problem in problems:
      logging.error("error: %s", problem)
    sys.exit(failure_summary(args.files, len(problems)))
  for problem in filter(None, problems):
    logging.error("error: %s", problem)
  try:
    refs = rttm.collect_rttm(args.ref) if args.ref else None
  except (OSError, ValueError) as e:
    sys.exit(f"error: --ref {e}")
  from drzjax import compile_cache  # noqa: PLC0415
  compile_cache.enable()  # a repeat run loads its compiled programs instead of compiling them
  load_errors = (FileNotFoundError, ValueError, audio_lib.AudioError, OSError)
  if args.workdir:  # only a training run's checkpoint can mismatch (orbax + grain: ~0.3 s)
    from drzjax import checkpoint  # noqa: PLC0415
    load_errors += (checkpoint.CheckpointMismatch,)
  try:
    d = Diarizer.load(args.workdir)
    d.decoder, d.linking, d.fill = args.decoder, args.linking, args.fill
    slots = d.vocab.speakers
    for flag in ("num_speakers", "min_speakers", "max_speakers"):
      if args.linking == "prompts" and getattr(args, flag) > slots:
        raise ValueError(f"--{flag.replace('_', '-')}={getattr(args, flag)}: the model has "
                         f"{slots} speaker slots (--linking=embeddings or both counts speakers "
                         "over the whole file)")
    enroll, enroll_problems = load_enrollment(args.enroll, d.sr)
    if args.linking != "prompts":
      conflicts = enrollment_conflicts(d.campp(), enroll, d.sr)
      enroll_problems += list(conflicts.values())
      enroll = [x for x in enroll if x[0] not in conflicts]
    enroll = [(name, audio) for name, audio, _ in enroll]
    for problem in enroll_problems:
      logging.error("error: %s", problem)
    os.makedirs(args.out, exist_ok=True)
  except load_errors as e:
    sys.exit(f"error: {e}")
  failed, t_all, audio_all = sum(map(bool, problems)), time.time(), 0.0
  for i, (path, uri) in enumerate(zip(args.files, uris)):
    if problems[i]:
      continue
    t = time.time()
    try:
      info = audio_lib.audio_info(path, d.sr)
      if info.conversion:
        logging.info("%s: %s", path, info.conversion)
      if info.narrowband:
        # Said once per file: the shipped model's DER on 8 kHz audio is about twice its DER on
        # the same recordings at 16 kHz (MODEL.md, "Known failures").
        logging.warning("%s: narrowband input (%d Hz: nothing above %d Hz); the model is weaker "
                        "on it than on 16 kHz audio (MODEL.md, \"Known failures\")", path,
                        info.sample_rate, info.sample_rate // 2)
      r = d(path, args.num_speakers, args.min_speakers, args.max_speakers, args.beam, enroll,
            uri=uri)
      # Writing is part of this file's work: a failure here fails this file, not the batch.
      out = os.path.join(args.out, r.uri + ".rttm")
      rttm.write_rttm(out, r.uri, r.segments)
      if args.plot:
        from drzjax import plot  # noqa: PLC0415
        ref = None if refs is None else reference_for(refs, r.uri, len(args.files))
        if refs is not None and ref is None:
          logging.warning("%s: no reference named %s in %s; plotting the result alone", path,
                          r.uri, args.ref)
        plot.save_png(timeline_figure(r, ref), os.path.join(args.out, r.uri + ".png"))
    except (audio_lib.AudioError, ValueError, OSError) as e:
      # AudioError names the path; an OSError names the output, so name the input too.
      logging.error("error: %s", e if path in str(e) else f"{path}: {e}")
      failed += 1
      continue
    dt = time.time() - t
    audio_all += r.duration
    logging.info("[%d/%d] %s: %.1f s audio, %d speakers, %d segments -> %s  (%.1f s, RTF %.3f, "
                 "%.2f files/s)", i + 1, len(args.files), path, r.duration,
                 len({s[2] for s in r.segments}), len(r.segments), out, dt,
                 dt / max(r.duration, 1e-9), (i + 1) / (time.time() - t_all))
  if failed:
    sys.exit(failure_summary(args.files, failed))
  if enroll_problems:
    sys.exit(f"error: {len(enroll_problems)} enrollment problem(s) (see above); the files were "
             "diarized without those voices")


if __name__ == "__main__":
  main()
