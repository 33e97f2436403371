"""Within-speaker whitening of CAM++ embeddings for linking (docs/design.md, "Linking chunks").

CAM++'s raw cosine mixes who is speaking with how the clip sounds: 1-3 s clips of different
espeak-ng training voices sit at cosine 0.29 on average (clips of one voice 0.75), of different
LibriSpeech voices at 0.06. Whitening by the within-speaker covariance (WCCN) measured on
TRAINING voices shrinks the directions in which one voice's clips differ from each other
(channel, words, length) and keeps those in which voices differ (espeak-ng: 0.17 between voices,
0.73 within; MODEL.md, "Tenth session"):

  e -> normalised(T (e - m)),  T = (S_w + reg * mean eigenvalue of S_w * I) ^ (-1/2)

m is the mean of all clips' embeddings, S_w the covariance of clips around their speaker's mean.
A constant transform, not a per-file one: centring on a file's own mean separated voices better
in conversations but split a single voice into 2-10 speakers (MODEL.md).

  python -m drzjax.whitening --banks=default,BANKS/ls-train,BANKS/so-train,BANKS/sc-train \
      --out=drzjax/pretrained/campplus/whitening.npz

writes the shipped file from four random 1-3 s clips of each training voice of the banks.
"""
import argparse
import functools
import os

import numpy as np

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", "campplus",
                    "whitening.npz")
REG = 1.0  # of the mean eigenvalue: 0.1 whitened harder and linked worse (MODEL.md)
CLIPS_PER_SPEAKER = 4
CLIP_SECS = (1.0, 3.0)


class WhiteningError(Exception):
  pass


def fit(embeddings, speakers, reg=REG):
  """(N, D) L2-normalised embeddings, N speaker ids -> {"mean": (D,), "transform": (D, D)}
  float32. Speakers with one clip count for the mean only."""
  x = np.asarray(embeddings, np.float64)
  speakers = np.asarray(speakers)
  within, dof = np.zeros((x.shape[1], x.shape[1])), 0
  for s in np.unique(speakers):
    c = x[speakers == s]
    if len(c) > 1:
      c = c - c.mean(0)
      within += c.T @ c
      dof += len(c) - 1
  if not dof:
    raise ValueError("whitening needs at least one speaker with two or more clips")
  within /= dof
  within += reg * np.trace(within) / len(within) * np.eye(len(within))
  w, v = np.linalg.eigh(within)
  return {"mean": x.mean(0).astype(np.float32),
          "transform": (v @ np.diag(w ** -0.5) @ v.T).astype(np.float32)}


def apply(whitening, e):
  """(D,) embedding -> (D,) whitened, L2-normalised (float64)."""
  y = whitening["transform"].astype(np.float64) @ (np.asarray(e, np.float64) -
                                                  whitening["mean"])
  return y / max(np.linalg.norm(y), 1e-12)


@functools.lru_cache(maxsize=4)
def load(path=PATH):
  """The shipped whitening; a one-line WhiteningError naming the file and the command that
  makes it when it is missing or not a whitening."""
  make = "python -m drzjax.whitening --banks=... --out=" + path
  if not os.path.exists(path):
    raise WhiteningError(f"{path}: missing; make it with `{make}`")
  try:
    with np.load(path) as z:
      w = {"mean": z["mean"], "transform": z["transform"]}
  except (OSError, ValueError, KeyError) as e:
    raise WhiteningError(f"{path}: not a whitening file ({e}); make it with `{make}`") from e
  d = w["mean"].shape
  if len(d) != 1 or w["transform"].shape != d * 2 or not np.all(np.isfinite(w["transform"])):
    raise WhiteningError(f"{path}: mean {w['mean'].shape} and transform "
                         f"{w['transform'].shape} do not fit; make it with `{make}`")
  return w


def bank_clips(bank, rng, sample_rate=16000):
  """[(speaker, clip)]: CLIPS_PER_SPEAKER random clips of CLIP_SECS from the speech of each
  training voice of `bank` (its first 8 utterances' speech regions, joined)."""
  out = []
  for s in bank.speakers("train"):
    speech = np.concatenate([np.concatenate([bank.audio(u, a, b) for a, b in u.regions])
                             for u in bank.utterances_of(s)[:8]])
    for _ in range(CLIPS_PER_SPEAKER):
      n = int(rng.uniform(*CLIP_SECS) * sample_rate)
      if len(speech) < n + sample_rate // 10:
        break
      o = rng.integers(0, len(speech) - n)
      out.append((s, speech[o:o + n]))
  return out


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--banks", required=True,
                 help="comma-separated bank directories ('default': the espeak-ng bank); only "
                      "their train voices are used")
  p.add_argument("--out", default=PATH)
  p.add_argument("--reg", type=float, default=REG)
  a = p.parse_args(argv)
  from drzjax import files, linking  # noqa: PLC0415 - jax only when building
  from drzjax.data import build, speaker_bank  # noqa: PLC0415
  from drzjax.nets import campplus  # noqa: PLC0415
  from configs import base  # noqa: PLC0415
  campp = campplus.load()
  rng = np.random.default_rng(0)
  embs, who = [], []
  for i, path in enumerate(a.banks.split(",")):
    bank = speaker_bank.open_bank(build.default_bank(base.get_config()) if path == "default"
                                  else path)
    for s, clip in bank_clips(bank, rng):
      e = linking.raw_embed(campp, clip, 16000)
      if e is not None:
        embs.append(e)
        who.append(f"{i}/{s}")
    print(f"{path}: {len(embs)} clips so far", flush=True)
  w = fit(embs, who, a.reg)
  with files.atomic_write(a.out, mode="wb") as f:
    np.savez(f, **w)
  print(f"wrote {a.out} ({len(embs)} clips of {len(set(who))} voices)")


if __name__ == "__main__":
  main()
