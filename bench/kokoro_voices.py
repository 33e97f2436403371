"""How distinct are the Kokoro voice blends? Leave-one-out nearest-centroid speaker ID on mean log
spectra (the check tests/test_tts.py makes of espeak's voices), Kokoro beside espeak.

  python -m bench.kokoro_voices [--speakers=10] [--utterances=3] [--seed=0]
      [--kokoro-bank=PATH] [--espeak-bank=PATH] [--originals]

Each engine's utterances come from a bank: the one given, else one built by
drzjax.bank.build_tts in a temporary directory (timed: seconds of audio per second of
synthesis). The first --speakers speakers with --utterances utterances each are used.
--originals adds Kokoro's five unblended styles as a reference row (5 speakers, so its chance
level differs). Per row: accuracy (chance = 1/speakers) and between/within, the mean distance
between two speakers' fingerprints over that between two texts of one speaker. The last line is
one JSON object of the rows.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from drzjax.data import build
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import timbre


def bank_features(path, speakers, utterances):
  b = bank_lib.Bank(path)
  names = [s for s in sorted(b.by_speaker) if len(b.by_speaker[s]) >= utterances][:speakers]
  if len(names) < speakers:
    sys.exit(f"{path}: only {len(names)} speakers with {utterances} utterances")
  return np.array([[timbre.fingerprint(b.audio(u)) for u in b.utterances_of(s)[:utterances]]
                   for s in names])


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m bench.kokoro_voices",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--speakers", type=int, default=10)
  p.add_argument("--utterances", type=int, default=3)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--kokoro-bank", help="read this Kokoro bank instead of building one")
  p.add_argument("--espeak-bank", help="read this espeak bank instead of building one")
  p.add_argument("--originals", action="store_true", help="add Kokoro's five styles, unblended")
  a = p.parse_args(argv)
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for engine, given in (("espeak", a.espeak_bank), ("kokoro", a.kokoro_bank)):
      speed = None
      if not given:
        t0 = time.time()
        given = build.build_tts(os.path.join(tmp, engine), a.speakers, a.utterances,
                              seed=a.seed, engine=engine, log=lambda m: None)
        b = bank_lib.Bank(given)
        speed = sum(u.length for u in b.utterances) / b.sample_rate / (time.time() - t0)
      acc, ratio = timbre.distinctness(bank_features(given, a.speakers, a.utterances))
      rows.append({"voices": f"{engine}", "speakers": a.speakers, "accuracy": acc,
                   "between_within": ratio, "audio_s_per_s": speed})
  if a.originals:
    from drzjax.data import kokoro
    styles = kokoro.load()["styles"]
    t0, secs = time.time(), 0.0
    f = []
    for k in range(len(styles)):
      v = {"style": styles[k], "speed": 1.0, "gain": 0.7, "formant": 1.0}
      xs = [kokoro.speak_utterance(a.seed, k, u, v)[1] for u in range(a.utterances)]
      secs += sum(len(x) for x in xs) / 16000
      f.append([timbre.fingerprint(x) for x in xs])
    acc, ratio = timbre.distinctness(np.array(f))
    rows.append({"voices": "kokoro-5-originals", "speakers": len(styles), "accuracy": acc,
                 "between_within": ratio, "audio_s_per_s": secs / (time.time() - t0)})
  print(f"{'voices':<20} {'speakers':>8} {'utts':>5} {'accuracy':>9} {'chance':>7} "
        f"{'betw/within':>11} {'audio s/s':>9}")
  for r in rows:
    sp = r["audio_s_per_s"]
    print(f"{r['voices']:<20} {r['speakers']:>8} {a.utterances:>5} {r['accuracy']:>9.0%} "
          f"{1 / r['speakers']:>7.0%} {r['between_within']:>11.2f} "
          f"{'-' if sp is None else f'{sp:.1f}':>9}")
  print(json.dumps({"utterances": a.utterances, "seed": a.seed, "rows": rows}))


if __name__ == "__main__":
  main()
