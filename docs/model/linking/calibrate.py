"""Calibrate linking's similarity thresholds on long conversations of TRAINING voices.

Decodes each conversation once (Diarizer.chunks), then re-links it at every setting and fills
and joins as diarize does: DER at collar 0.25, speaker-count error, and enrollment accuracy
(each voice enrolled with 5 s of another of its utterances) per setting. One JSON line per
(threshold, margin, segment rounds, eigengap floor) on stdout.

  PYTHONPATH=. python docs/model/linking/calibrate.py --split=train --num=12 --secs=120
  PYTHONPATH=. python docs/model/linking/calibrate.py --bank=/work/banks/ls-train --split=all
  PYTHONPATH=. python docs/model/linking/calibrate.py --bank=BANK --split=all --secs=600 --voices=12 --num=3
  PYTHONPATH=. python docs/model/linking/calibrate.py --thresholds=0.4 --margins=0,0.05,0.1 --segment-secs=0.5
  # the fifth session's choices (MODEL.md): 2-minute conversations of 3 training voices, and
  # 10-minute meetings of 12
  PYTHONPATH=. python docs/model/linking/calibrate.py --bank=BANK --split=train --num=10 \
      --voices=3 --thresholds=0.4 --margins=0.1,0 --rounds=0,1,3,10 --floor-from=6,100
  PYTHONPATH=. python docs/model/linking/calibrate.py --bank=BANK --split=train --num=5 --secs=600 \
      --voices=12 --thresholds=0.4 --margins=0 --rounds=10 --floor-from=4,6,100
  # the eighth session's: the short voices of 10-minute meetings (MODEL.md)
  PYTHONPATH=. python docs/model/linking/calibrate.py --bank=BANK --split=train --num=5 --secs=600 \
      --voices=12 --thresholds=0.4 --min-shares=0.03,0.01,0.003,0 --min-seed-secs=1.5,0.8
"""
import argparse
import json
import logging


from drzjax import der
from drzjax import diarize
from drzjax import linking
from drzjax import scoring


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--model", default=None, help="workdir or export (default: shipped)")
  p.add_argument("--bank", default=None)
  p.add_argument("--split", default="train")
  p.add_argument("--num", type=int, default=12)
  p.add_argument("--secs", type=float, default=120.0)
  p.add_argument("--mix-speakers", type=int, default=None)
  p.add_argument("--voices", type=int, default=0, help="meetings of exactly this many voices")
  p.add_argument("--linking", default="embeddings")
  p.add_argument("--thresholds", default="0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7")
  p.add_argument("--margins", default=str(linking.REFINE_MARGIN),
                 help="refine margins to try at each threshold (comma-separated)")
  p.add_argument("--segment-secs", type=float, default=linking.SEGMENT_SECS,
                 help="solo speech a segment needs to be re-assigned on its own")
  p.add_argument("--rounds", default=str(linking.SEGMENT_ROUNDS),
                 help="k-means rounds on the segments to try (comma-separated)")
  p.add_argument("--floor-from", default=str(linking.FLOOR_FROM),
                 help="eigengap counts from which the count is a floor (comma-separated; a "
                      "large value turns the floor off)")
  p.add_argument("--min-shares", default=str(linking.MIN_SHARE),
                 help="shares of the file's speech under which a one-chunk speaker joins the "
                      "nearest (comma-separated)")
  p.add_argument("--min-seed-secs", default=str(linking.MIN_SEED_SECS),
                 help="solo speech a letter needs to found a speaker (comma-separated)")
  a = p.parse_args()
  linking.SEGMENT_SECS = a.segment_secs
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  d = diarize.Diarizer.load(a.model)
  config = d.config
  if a.mix_speakers:
    config.data.num_speakers = a.mix_speakers
  mixtures, synth = scoring.heldout_mixtures(config, a.num, secs=a.secs, bank_path=a.bank,
                                             split=a.split, voices=a.voices)
  bank = synth.bank()
  runs = []
  for i, m in enumerate(mixtures):
    segs, units, speech, secs = d.chunks(m.audio, linking=a.linking)
    enroll = scoring.enrollment_clips(bank, m, i, d.sr)
    runs.append((m, segs, units, speech, secs, enroll))
    logging.info("[%d/%d] decoded, %d units", i + 1, len(mixtures), len(units))
  refs = {f"long{i:03d}": [(s, e, str(w)) for s, e, w in m.segments]
          for i, m in enumerate(mixtures)}

  settings = [(th, margin, rounds, floor, share, seed)
              for th in map(float, a.thresholds.split(","))
              for margin in map(float, a.margins.split(","))
              for rounds in map(int, a.rounds.split(","))
              for floor in map(int, a.floor_from.split(","))
              for share in map(float, a.min_shares.split(","))
              for seed in map(float, a.min_seed_secs.split(","))]
  for th, margin, rounds, floor, share, seed in settings:
    linking.SEGMENT_ROUNDS, linking.FLOOR_FROM = rounds, floor
    linking.MIN_SHARE, linking.MIN_SEED_SECS = share, seed
    hyps, named = {}, []
    for i, (m, segs, units, speech, secs, enroll) in enumerate(runs):
      hyps[f"long{i:03d}"] = d.finish(d.link(segs, units, threshold=th, margin=margin),
                                      speech, secs)
      named.append(d.finish(d.link(segs, units, enroll, threshold=th, enroll_threshold=th,
                                   margin=margin), speech, secs))
    r = der.score_corpus(refs, hyps, collar=0.25)["overall"]
    counts = scoring.speaker_count_errors(refs, hyps)
    print(json.dumps({"threshold": th, "margin": margin, "segment_secs": a.segment_secs,
                      "rounds": rounds, "floor_from": floor, "min_share": share,
                      "min_seed_secs": seed,
                      "der": round(r["der"], 4), "conf": round(r["confusion"] / r["total"], 4),
                      "enroll_acc": round(scoring.enrollment_accuracy(mixtures, named, d.sr), 4),
                      "counts": list(counts.values()),
                      **{k: round(v, 3) for k, v in scoring.count_summary(counts).items()}}),
          flush=True)


if __name__ == "__main__":
  main()
