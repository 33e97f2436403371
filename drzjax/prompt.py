"""The long-audio prompt (docs/design.md, "Decoding"), built here for inference and training.

`diarize` prefixes every chunk after the first (and the first when speakers are enrolled) with a
clip of each known speaker, each followed by SILENCE_SECS of silence, and forces the decoder to
emit the clips' (start, end, letter k) triplets before it reads the new audio. Training's
prompted examples (data/mixtures.make_prompted) are laid out by the same `layout`, so what the
model learns to continue is what diarize gives it.
"""
import numpy as np

SILENCE_SECS = 0.2         # after each clip, as nanodrz
PROMPT_SECS = 3.0          # audio per known speaker, at most
MAX_PROMPT_FRACTION = 0.5  # the clips together, at most this share of the chunk


def clip_secs(max_secs, n_prompt):
  """The longest clip each of n_prompt known speakers gets in a chunk of max_secs."""
  return min(PROMPT_SECS, MAX_PROMPT_FRACTION * max_secs / max(1, n_prompt) - SILENCE_SECS)


def layout(clips, sample_rate):
  """[clip audio] -> (prompt audio, [(start_s, end_s)] of each clip in it).

  The audio is each clip followed by SILENCE_SECS of zeros (float32; empty for no clips); clip k
  is the speaker of letter k. An empty clip keeps its place (a zero-length span).
  """
  gap = np.zeros(int(SILENCE_SECS * sample_rate), np.float32)
  parts, spans, pos = [], [], 0
  for clip in clips:
    spans.append((pos / sample_rate, (pos + len(clip)) / sample_rate))
    parts += [np.asarray(clip, np.float32), gap]
    pos += len(clip) + len(gap)
  return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), spans


def forced_ids(spans, vocab):
  """The decoder's forced prefix for the clip spans of `layout`: start, end and letter k of clip
  k, as tokens.encode writes the prompt's labels in training."""
  ids = []
  for k, (start, end) in enumerate(spans):
    ids += [int(vocab.time_id(start)), int(vocab.time_id(end)), int(vocab.speaker_id(k))]
  return ids


def build(clips, max_secs, sample_rate, vocab):
  """diarize's prompt before a chunk of max_secs: each known speaker's clip cut to clip_secs,
  laid out -> (prompt audio, forced ids)."""
  per = clip_secs(max_secs, len(clips))
  audio, spans = layout([clip[:int(per * sample_rate)] for clip in clips], sample_rate)
  return audio, forced_ids(spans, vocab)
