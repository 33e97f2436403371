"""Scores diarization: DER (false alarm, miss, confusion) and JER per file and overall.

  python -m drzjax.evaluate --ref=DIR_OR_FILE --hyp=DIR_OR_FILE [--uem=FILE_OR_DIR]
                            [--collar=0.25] [--skip-overlap] [--json=FILE]

prints a table (one row per reference uri, then OVERALL) and, with --json, writes
{"files": {uri: {der, false_alarm, missed, confusion, total, jer}}, "overall": {...}}
with der/jer as fractions and the others in seconds (total = scored reference speaker time).

  python -m drzjax.evaluate --workdir=runs/base --data=synthetic [--num=200] [--beam=4]
                            [--interrupt-max=1.0 --silence-max=0.5 --mix-speakers=3]
  python -m drzjax.evaluate --workdir=runs/base --data=DIR [--hyp-out=DIR]

diarizes with the newest checkpoint of a training run, then scores: held-out synthetic mixtures
(the bank's test split: speakers never seen in training; a fixed seed, so numbers compare
across runs; difficulty is the run's config unless overridden), or a folder of real *.wav with
*.rttm references (+ *.uem). jax is imported only in this mode, so scoring alone starts fast.

Bad input (missing file, malformed RTTM/UEM line) prints one line naming the file and line on
stderr and exits with status 2.
"""
import argparse
import json
import logging
import math
import os
import sys

from drzjax import der
from drzjax import files
from drzjax import rttm

COLLAR_HELP = (
    "no-score collar in seconds, md-eval convention: +/- S seconds around every reference "
    "boundary are not scored (default 0). pyannote.metrics' `collar` is the total width "
    "instead, so md-eval --collar=0.25 equals pyannote DiarizationErrorRate(collar=0.5).")


def parse_args(argv):
  p = argparse.ArgumentParser(
      prog="python -m drzjax.evaluate",
      description="Score diarization RTTMs (DER with false alarm / miss / confusion, and "
                  "JER), per file and overall.",
      epilog="DER uses the optimal one-to-one speaker mapping; without a UEM the extent of "
             "reference and hypothesis is scored (as pyannote.metrics). Exit status 2 on bad "
             "input.")
  g = p.add_argument_group("scoring mode")
  g.add_argument("--ref", metavar="DIR_OR_FILE",
                 help="reference RTTM file, or directory of *.rttm (an empty file = silence)")
  g.add_argument("--hyp", metavar="DIR_OR_FILE",
                 help="hypothesis RTTM file, or directory of *.rttm")
  g.add_argument("--uem", metavar="FILE_OR_DIR",
                 help="scoring regions: UEM file, or directory of *.uem")
  g.add_argument("--collar", type=float, default=0.0, metavar="S", help=COLLAR_HELP)
  g.add_argument("--skip-overlap", action="store_true",
                 help="do not score regions where two or more reference speakers overlap")
  g.add_argument("--json", metavar="FILE", help="also write the scores as JSON to FILE")
  m = p.add_argument_group("diarize-then-score mode")
  m.add_argument("--workdir", metavar="DIR",
                 help="training run (newest checkpoint) or exported model that diarizes "
                      "(default with --data: the model shipped in drzjax/pretrained/base, see "
                      "MODEL.md)")
  m.add_argument("--decoder", choices=("tokens", "frames"), default="tokens",
                 help="tokens (the transformer's start/end/speaker tokens) or frames (the "
                      "frame head's speaker activity)")
  m.add_argument("--data", metavar="synthetic|DIR",
                 help="held-out synthetic mixtures, or a directory of *.wav + *.rttm (+ *.uem)")
  m.add_argument("--num", type=int, default=200,
                 help="synthetic mixtures to score (default 200, the set MODEL.md reports)")
  m.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy)")
  m.add_argument("--linking", choices=("prompts", "embeddings", "both"), default=None,
                 help="long audio: how speakers keep identity across chunks (diarize --help); "
                      "default: diarize's")
  m.add_argument("--no-fill", dest="fill", action="store_false",
                 help="long audio: leave speech the decoder gave no speaker unlabelled "
                      "(diarize --help)")
  m.add_argument("--batch", type=int, default=16, help="synthetic mixtures decoded at once")
  m.add_argument("--interrupt-max", type=float, help="synthetic: override data.interrupt_max")
  m.add_argument("--silence-max", type=float, help="synthetic: override data.silence_max")
  m.add_argument("--mix-speakers", type=int,
                 help="synthetic: override data.num_speakers; with --secs, meetings of "
                      "exactly this many voices, at most the model's data.num_speakers at a "
                      "time, entering and leaving")
  m.add_argument("--noise-prob", type=float, help="synthetic: override data.noise_prob")
  m.add_argument("--hyp-out", metavar="DIR", help="also write the hypothesis RTTMs here")
  m.add_argument("--bank", metavar="PATH",
                 help="synthetic: build the mixtures from every speaker of this bank (any split), "
                      "e.g. real voices never trained on, instead of the default bank's test split")
  m.add_argument("--split", choices=("train", "val", "test", "all"),
                 help="synthetic: the speakers of this split only (default: test, or all with "
                      "--bank)")
  m.add_argument("--secs", type=float, default=0.0,
                 help="synthetic: score long conversations of this many seconds through "
                      "diarize's chunked path, and report enrollment accuracy and the "
                      "speaker-count error")
  m.add_argument("--sweep", metavar="DIALS",
                 help="synthetic: DER per setting of each dial (overlap, noise, speakers, "
                      "loudness; comma-separated) -> OUT/sweep.csv, sweep.md, sweep_<dial>.png")
  m.add_argument("--out", metavar="DIR", help="--sweep: output directory")
  m.add_argument("--baseline", action="store_true",
                 help="also score 'oracle speech, one label' (all reference speech given one "
                      "speaker) on the same mixtures or recordings")
  args = p.parse_args(argv)
  if args.sweep:
    args.data = args.data or "synthetic"
    if args.data != "synthetic":
      p.error("--sweep scores synthetic data: drop --data or use --data=synthetic")
    if not args.out:
      p.error("--sweep needs --out=DIR")
  args.skipped = []
  if args.json and os.path.isdir(args.json):
    p.error(f"--json {args.json}: is a directory; give a file name")
  if args.hyp_out and (problem := files.dir_problem(args.hyp_out, f"--hyp-out {args.hyp_out}")):
    p.error(problem)
  if args.num < 1:
    p.error(f"--num must be >= 1, got {args.num}")
  if args.batch < 1:
    p.error(f"--batch must be >= 1, got {args.batch}")
  if args.beam < 1:
    p.error(f"--beam must be >= 1, got {args.beam}")
  if args.secs < 0 or (args.secs and args.data != "synthetic"):
    p.error("--secs is a positive length for --data=synthetic")
  if args.workdir is not None and args.data is None:
    p.error("--workdir needs --data (synthetic or a directory) to diarize")
  if args.data is None:
    if args.ref is None or args.hyp is None:
      p.error("give --ref and --hyp (scoring mode) or --workdir and --data")
    if not (math.isfinite(args.collar) and args.collar >= 0):
      p.error(f"--collar must be a number >= 0, got {args.collar}")
  return args


def _pct(x, total):
  return f"{100 * x / total:.2f}" if total > 0 else "-"


def format_table(result):
  """The printed table: DER%, FA%, Miss%, Conf%, JER% and scored seconds per uri + OVERALL."""
  rows = [(uri, r) for uri, r in sorted(result["files"].items())]
  rows.append(("OVERALL", result["overall"]))
  width = max(len("File"), *(len(uri) for uri, _ in rows))
  head = ("File", "DER%", "FA%", "Miss%", "Conf%", "JER%", "Scored(s)")
  fmt = f"{{:<{width}}}" + " {:>8}" * 5 + " {:>10}"
  lines = [fmt.format(*head), "-" * (width + 9 * 5 + 11)]
  for i, (uri, r) in enumerate(rows):
    if i == len(rows) - 1:
      lines.append(lines[1])
    lines.append(fmt.format(uri, f"{100 * r['der']:.2f}", _pct(r["false_alarm"], r["total"]),
                            _pct(r["missed"], r["total"]), _pct(r["confusion"], r["total"]),
                            f"{100 * r['jer']:.2f}", f"{r['total']:.3f}"))
  return "\n".join(lines)


def write_json(result, path):
  """Atomically (temp file + rename), so a killed run leaves no half JSON."""
  with files.atomic_write(path) as f:
    json.dump(result, f, indent=2, sort_keys=True)
    f.write("\n")


def score_paths(ref, hyp, uem=None, collar=0.0, skip_overlap=False, json_path=None):
  """Scoring mode: RTTM (+UEM) paths -> {"files": {...}, "overall": {...}}; writes json_path.

  Raises rttm.FormatError / OSError on bad input.
  """
  refs = rttm.collect_rttm(ref)
  hyps = rttm.collect_rttm(hyp)
  uems = rttm.collect_uem(uem) if uem else None
  result = der.score_corpus(refs, hyps, uems, collar=collar, skip_overlap=skip_overlap)
  if json_path:
    write_json(result, json_path)
  return result


def diarize_and_score(args):
  """--workdir --data mode: diarize (synthetic mixtures or a folder of wavs), then score."""
  from drzjax import logs  # noqa: PLC0415
  logs.setup()
  from drzjax import audio as audio_lib  # noqa: PLC0415
  from drzjax import diarize  # noqa: PLC0415
  from drzjax import checkpoint  # noqa: PLC0415
  from drzjax.data.speaker_bank import BankError  # noqa: PLC0415
  from drzjax import compile_cache  # noqa: PLC0415
  compile_cache.enable()
  try:
    d = diarize.Diarizer.load(args.workdir)
    d.decoder = args.decoder
    d.linking = args.linking or d.linking
    d.fill = args.fill
    if args.sweep:
      from drzjax import sweep  # noqa: PLC0415
      sweep.run(d, args.sweep.split(","), args.out, num=args.num, batch=args.batch,
                collar=args.collar, beam=args.beam)
      return 0
    if args.data == "synthetic":
      result, hyps = _score_synthetic_args(d, args)
    else:
      result, hyps = _score_folder(d, args)
  except (FileNotFoundError, ValueError, audio_lib.AudioError, OSError,
          checkpoint.CheckpointMismatch, BankError) as e:
    print(f"error: {_error_line(e)}", file=sys.stderr)
    return 2
  if args.hyp_out:
    os.makedirs(args.hyp_out, exist_ok=True)
    for uri, segs in hyps.items():
      rttm.write_rttm(os.path.join(args.hyp_out, uri + ".rttm"), uri, segs)
  if args.json:
    write_json(result, args.json)
  print(format_table(result))
  if args.skipped:
    print(f"error: {len(args.skipped)} file(s) could not be read and were not scored: "
          f"{', '.join(args.skipped)}", file=sys.stderr)
    return 1
  return 0


def _score_long(d, args, config):
  """--secs: long conversations through diarize's chunked path; DER, the speaker-count error,
  and with every voice enrolled (a clip from another utterance), the enrollment accuracy."""
  from drzjax import scoring  # noqa: PLC0415 - jax: only the diarizing modes
  # --mix-speakers with --secs: meetings of exactly that many voices, a few at a time.
  voices = args.mix_speakers or 0
  mixtures, synth = scoring.heldout_mixtures(config, args.num, secs=args.secs,
                                             bank_path=args.bank, split=args.split, voices=voices)
  bank = synth.bank()
  refs, hyps, named = {}, {}, []
  for i, m in enumerate(mixtures):
    uri = f"long{i:03d}"
    refs[uri] = [(s, e, str(w)) for s, e, w in m.segments]
    hyps[uri] = d(m.audio, uri=uri, beam=args.beam).segments
    enroll = scoring.enrollment_clips(bank, m, i, d.sr)
    named.append(d(m.audio, uri=uri, beam=args.beam, enroll=enroll).segments)
    logging.info("[%d/%d] %s: %.0f s, %d voices, %d segments", i + 1, len(mixtures), uri,
                 len(m.audio) / d.sr, len(m.speakers), len(hyps[uri]))
  result = der.score_corpus(refs, hyps, collar=args.collar)
  acc = scoring.enrollment_accuracy(mixtures, named, d.sr)
  result["overall"]["enrollment_accuracy"] = acc
  logging.info("enrollment accuracy (share of single-speaker speech given the right NAME): "
               "%.2f%%", 100 * acc)
  counts = scoring.speaker_count_errors(refs, hyps)
  for uri, c in counts.items():
    result["files"][uri]["speaker_count_error"] = c
  result["overall"].update(scoring.count_summary(counts))
  logging.info("speaker count (found - true): %s; mean |error| %.2f, within +-1 in %.0f%% of "
               "files", " ".join(f"{c:+d}" for c in counts.values()),
               result["overall"]["speaker_count_abs_error"],
               100 * result["overall"]["speaker_count_within_1"])
  if args.baseline:
    b = scoring.one_label_baseline(mixtures, args.collar)["overall"]
    logging.info("baseline (oracle speech, one label): DER %.2f%%", 100 * b["der"])
    result["baseline"] = b
  return result, hyps


def _score_synthetic_args(d, args):
  from drzjax import scoring  # noqa: PLC0415 - jax: only the diarizing modes
  config = d.config
  for flag, key in (("interrupt_max", "interrupt_max"), ("silence_max", "silence_max"),
                    ("mix_speakers", "num_speakers"), ("noise_prob", "noise_prob")):
    if flag == "mix_speakers" and args.secs:
      continue  # long audio: the meeting's voices (_score_long), a chunk's stay the model's
    if getattr(args, flag) is not None:
      config.data[key] = getattr(args, flag)
  if args.secs:
    return _score_long(d, args, config)
  mixtures, _ = scoring.heldout_mixtures(config, args.num, bank_path=args.bank,
                                         split=args.split)
  if args.baseline:
    b = scoring.one_label_baseline(mixtures, args.collar)["overall"]
    logging.info("baseline (oracle speech, one label) on the same mixtures: DER %.2f%% "
                 "(false alarm %.2f%%, missed %.2f%%, confusion %.2f%%)", 100 * b["der"],
                 100 * b["false_alarm"] / b["total"], 100 * b["missed"] / b["total"],
                 100 * b["confusion"] / b["total"])
  logging.info("scoring %d synthetic test mixtures (%s speakers max, interrupt_max %.2f s, "
               "silence_max %.2f s)", args.num, config.data.num_speakers,
               config.data.interrupt_max, config.data.silence_max)
  result, hyps = scoring.score_synthetic(d.params, d.model, mixtures, args.beam, args.batch,
                                         args.collar, decoder=d.decoder)
  if args.baseline:
    result["baseline"] = b  # in --json beside the model's scores
  return result, hyps


def _score_folder(d, args):
  import glob  # noqa: PLC0415
  wavs = sorted(glob.glob(os.path.join(args.data, "*.wav")))
  if not wavs:
    raise FileNotFoundError(f"{args.data}: no *.wav files")
  refs = rttm.collect_rttm(args.data)
  uems = rttm.collect_uem(args.data) if glob.glob(os.path.join(args.data, "*.uem")) else None
  from drzjax import audio as audio_lib  # noqa: PLC0415
  hyps = {}
  for i, path in enumerate(wavs):
    uri = os.path.splitext(os.path.basename(path))[0]
    if uri not in refs:
      logging.warning("%s: no %s.rttm reference beside it; skipped", path, uri)
      continue
    try:
      r = d(path, beam=args.beam, uri=uri)
    except (audio_lib.AudioError, ValueError, OSError) as e:
      # One bad file among many: score the rest, say so, and exit non-zero at the end.
      logging.warning("%s: skipped, not scored (%s)", path, _error_line(e))
      args.skipped.append(path)
      continue
    hyps[uri] = r.segments
    logging.info("[%d/%d] %s: %.1f s, %d segments", i + 1, len(wavs), path, r.duration,
                 len(r.segments))
  if not hyps:
    raise ValueError(f"{args.data}: no file could be diarized and scored")
  refs = {u: refs[u] for u in hyps}
  result = der.score_corpus(refs, hyps, uems, collar=args.collar, skip_overlap=args.skip_overlap)
  if args.baseline:
    from drzjax import scoring  # noqa: PLC0415
    b = der.score_corpus(refs, {u: scoring.one_label(r) for u, r in refs.items()}, uems,
                         collar=args.collar, skip_overlap=args.skip_overlap)["overall"]
    logging.info("baseline (oracle speech, one label) on the same recordings: DER %.2f%%",
                 100 * b["der"])
    result["baseline"] = b
  return result, hyps


def _error_line(e):
  if isinstance(e, OSError) and e.filename and e.strerror:
    return f"{e.filename}: {e.strerror}"
  return str(e)


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  if args.data is not None:
    return diarize_and_score(args)
  # Warnings (missing hypothesis, ...) go to stderr; a handler on our own logger, not the root,
  # so that calling main() from Python leaves the caller's logging alone.
  handler = logging.StreamHandler(sys.stderr)
  handler.setFormatter(logging.Formatter("warning: %(message)s"))
  logger = logging.getLogger("drzjax")
  logger.addHandler(handler)
  try:
    result = score_paths(args.ref, args.hyp, args.uem, args.collar, args.skip_overlap,
                         args.json)
  except (rttm.FormatError, OSError) as e:
    print(f"error: {_error_line(e)}", file=sys.stderr)
    return 2
  finally:
    logger.removeHandler(handler)
  print(format_table(result))
  return 0


if __name__ == "__main__":
  sys.exit(main())
