"""Scores diarization: DER (false alarm, miss, confusion) and JER per file and overall.

  python -m drzjax.evaluate --ref=DIR_OR_FILE --hyp=DIR_OR_FILE [--uem=FILE_OR_DIR]
                            [--collar=0.25] [--skip-overlap] [--json=FILE]

prints a table (one row per reference uri, then OVERALL) and, with --json, writes
{"files": {uri: {der, false_alarm, missed, confusion, total, jer}}, "overall": {...}}
with der/jer as fractions and the others in seconds (total = scored reference speaker time).

The second mode, `--workdir=DIR --data=synthetic|DIR` (diarize with a trained model, then
score), is declared here but not implemented yet. It should diarize into RTTMs and call
`score_paths` / `score_corpus` + `format_table`; keep jax imports inside that mode so that
scoring alone starts fast.

Bad input (missing file, malformed RTTM/UEM line) prints one line naming the file and line on
stderr and exits with status 2.
"""
import argparse
import json
import logging
import math
import os
import sys
import tempfile

from drzjax import der
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
  m = p.add_argument_group("diarize-then-score mode (not implemented yet)")
  m.add_argument("--workdir", metavar="DIR", help="training run whose model diarizes")
  m.add_argument("--data", metavar="synthetic|DIR",
                 help="held-out synthetic mixtures, or a directory of *.wav + *.rttm (+ *.uem)")
  args = p.parse_args(argv)
  if args.workdir is None and args.data is None:
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
  path = os.path.abspath(path)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(result, f, indent=2, sort_keys=True)
      f.write("\n")
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


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


def _error_line(e):
  if isinstance(e, OSError) and e.filename and e.strerror:
    return f"{e.filename}: {e.strerror}"
  return str(e)


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  if args.workdir is not None or args.data is not None:
    print("python -m drzjax.evaluate: --workdir/--data (diarize, then score) is not "
          "implemented yet; score existing RTTMs with --ref and --hyp", file=sys.stderr)
    return 2
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
