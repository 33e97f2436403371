"""Long conversations of real voices the shipped model never heard, as wav + RTTM: the data of
the real-data fine-tuning demonstration (docs/model/real_data/README.md).

  PYTHONPATH=. python docs/model/real_data/make_recordings.py --bank=/work/banks/so-test \\
      --out=/work/real-demo [--num=24 --heldout=6 --min-secs=120 --max-secs=240 --seed=0]

The bank's speakers (speechocean762's test speakers: `python -m drzjax.bank build
--source=speechocean762/test --layout=speaker-dirs --val-fraction=0 --test-fraction=0`) are
split in two: OUT/train/ holds num - heldout recordings of one part, OUT/heldout/ the rest, of
voices that never appear in OUT/train. A recording: 2-4 voices taking turns (whole utterances,
pauses of 0.1-1.5 s, a sixth of the turns overlapping the previous one by 0.1-0.6 s), each
voice at its own level, all of it through one room and one microphone (one impulse response,
channel.voice_response with EQ and reverberation, per recording) with that recording's
background (channel.apply: a floor, sometimes hum, clicks, breaths or far babble of other
voices of its part). Labels: each utterance's speech regions (the bank's voice activity),
merged per voice, as the synthetic mixtures label them. Deterministic in --seed.
"""
import argparse
import dataclasses
import os
import sys

import numpy as np
import soundfile as sf

from drzjax import intervals
from drzjax import rttm
from drzjax.data import channel
from drzjax.data import levels
from drzjax.data import speaker_bank

ROOM = dataclasses.replace(channel.OFF, eq_prob=1.0, reverb_prob=1.0)
BACKGROUND = dataclasses.replace(channel.OFF, babble_prob=0.2, hum_prob=0.2, click_prob=0.1,
                                 breath_prob=0.3, floor_prob=1.0)


def conversation(bank, voices, rng, secs, sr):
  """(audio, segments) of `voices` talking for about `secs` seconds."""
  n = len(voices)
  gain = 10 ** (rng.uniform(-6, 6, n) / 20)  # distance to the microphone, loudness
  queue = [list(rng.permutation(len(bank.utterances_of(v)))) for v in voices]
  audio = np.zeros(int((secs + 30) * sr), np.float32)
  labels = {k: [] for k in range(n)}
  last_end = np.zeros(n, np.int64)
  pos, prev = int(rng.uniform(0.3, 1.5) * sr), -1
  while pos < secs * sr:
    k = int(rng.choice([j for j in range(n) if j != prev]))
    utts = bank.utterances_of(voices[k])
    if not queue[k]:
      queue[k] = list(rng.permutation(len(utts)))
    u = utts[queue[k].pop()]
    if len(u.regions) == 0:
      continue
    a, b = int(u.regions[0, 0]), int(u.regions[-1, 1])
    x = bank.audio(u, a, b)
    speech = np.concatenate([x[s - a:e - a] for s, e in u.regions])
    x *= np.float32(levels.REF_RMS * gain[k] / max(float(np.sqrt(np.mean(speech ** 2))), 1e-5))
    start = max(pos, int(last_end[k]))
    if start + len(x) > len(audio):
      break
    audio[start:start + len(x)] += x
    labels[k] += [(start + s - a, start + e - a) for s, e in u.regions]
    last_end[k] = start + len(x)
    overlap = rng.random() < 1 / 6
    gap = -rng.uniform(0.1, 0.6) if overlap else rng.uniform(0.1, 1.5)
    pos, prev = max(start + len(x) + int(gap * sr), start + int(0.3 * sr)), k
  total = int(max(last_end) + rng.uniform(0.5, 2.0) * sr)
  segments = sorted((s / sr, e / sr, voices[k]) for k, regs in labels.items()
                    for s, e in intervals.merge(regs))
  return audio[:total], segments


def recording(bank, part, rng, secs, sr):
  n = int(rng.choice([2, 3, 4], p=[0.4, 0.4, 0.2]))
  voices = [part[int(i)] for i in rng.choice(len(part), n, replace=False)]
  audio, segments = conversation(bank, voices, rng, secs, sr)
  active = np.zeros(len(audio), bool)
  for s, e, _ in segments:
    active[int(s * sr):int(e * sr)] = True
  audio = channel.voice_response(rng, ROOM, sr)(audio)  # one room, one microphone
  effects = channel.apply(audio, active, rng, BACKGROUND, bank, part, voices, sr)
  audio *= np.float32(0.9 / max(float(np.abs(audio).max()), 1e-6))
  return audio, segments, voices, effects


def main(argv=None):
  p = argparse.ArgumentParser(prog="python docs/model/real_data/make_recordings.py",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--bank", required=True, help="speaker bank of voices the model never heard")
  p.add_argument("--out", required=True, help="writes OUT/train/ and OUT/heldout/")
  p.add_argument("--num", type=int, default=24)
  p.add_argument("--heldout", type=int, default=6)
  p.add_argument("--min-secs", type=float, default=120.0)
  p.add_argument("--max-secs", type=float, default=240.0)
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)
  bank = speaker_bank.open_bank(args.bank)
  speakers = bank.speakers("all")
  order = [speakers[i] for i in np.random.default_rng(args.seed).permutation(len(speakers))]
  n_held = max(4, round(len(speakers) * args.heldout / args.num))
  parts = {"heldout": order[:n_held], "train": order[n_held:]}
  for i in range(args.num):
    name = "heldout" if i < args.heldout else "train"
    rng = np.random.default_rng([args.seed, i])
    secs = rng.uniform(args.min_secs, args.max_secs)
    audio, segments, voices, effects = recording(bank, parts[name], rng, secs, bank.sample_rate)
    uri = f"conv{i:02d}"
    out = os.path.join(args.out, name)
    os.makedirs(out, exist_ok=True)
    sf.write(os.path.join(out, uri + ".wav"), audio, bank.sample_rate, subtype="PCM_16")
    rttm.write_rttm(os.path.join(out, uri + ".rttm"), uri, segments)
    print(f"{name}/{uri}: {len(audio) / bank.sample_rate:.0f} s, {len(voices)} voices, "
          f"{len(segments)} turns, room + {', '.join(effects) or 'nothing else'}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
