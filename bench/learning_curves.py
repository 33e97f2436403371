"""Ablations at equal wall-clock: train each variant for the same minutes, compare learning curves.

  python -m bench.learning_curves --out=/tmp/curves --minutes=8 [--variants=recipe,relay,...]
  python -m bench.learning_curves --out=/tmp/curves --report     # table + plot from finished runs

Each variant is `python -m drzjax.main --config=configs/base.py:small` plus one change (VARIANTS),
run one after the other (never two at once: they would share the cores), stopped by
train.max_minutes, validated every --eval-every steps on the same fixed val-split mixtures.
Validation time is not counted in the minutes. Prints a table of val DER (greedy tokens and frame
head, collar 0) and the listening gap against minutes of training, and writes OUT/curves.md and
OUT/curves.png. A rerun skips variants whose run already reached the minutes.

Each run validates on its own config's data, so a variant that changes the data (relay) has a
curve on other mixtures. The comparison that counts is the last table: every final checkpoint
scored on the same 200 held-out conversations of test-split voices (the recipe's data).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VARIANTS = {
    "recipe": [],                                        # the small recipe as configured
    "relay": ["--config.data.style=relay"],              # nanodrz's data: each voice once
    "no_frame_loss": ["--config.train.frame_weight=0"],  # tokens only
    "causal": ["--config.model.attention=causal"],       # no frame sees what follows it
    "one_hot_time": ["--config.train.time_sigma=0"],     # one bin off costs as much as 5 s off
    "no_prompts": ["--config.data.prompt_prob=0"],       # never trained on diarize's prompts
}


def curve(workdir):
  """[(train_minutes, step, val_der, val_der_frames, gap)] from a run's metrics.jsonl."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  out = []
  with open(path) as f:
    for line in f:
      m = json.loads(line)
      if "val_der" in m:
        out.append((m["train_minutes"], m["step"], m["val_der"], m["val_der_frames"],
                    m["val_listening_gap"]))
  return out


def train(name, out, minutes, eval_every):
  workdir = os.path.join(out, name)
  cmd = [sys.executable, "-m", "drzjax.main", "--config=configs/base.py:small",
         f"--workdir={workdir}", f"--config.train.max_minutes={minutes}",
         f"--config.train.eval_every={eval_every}", "--config.train.steps=100000",
         "--config.train.log_every=50", *VARIANTS[name]]
  print(f"== {name}: {' '.join(cmd[2:])}", flush=True)
  with open(os.path.join(out, f"{name}.log"), "w") as log:
    r = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
  if r.returncode:
    sys.exit(f"error: {name} failed (exit {r.returncode}); see {out}/{name}.log")


def final_scores(out, names, num=200):
  """{name: {(decoder, collar): DER}} of each run's final checkpoint on the recipe's held-out
  conversations (the same mixtures for every variant)."""
  from configs.base import get_config  # noqa: PLC0415
  from drzjax import diarize, scoring  # noqa: PLC0415
  mixtures, _ = scoring.heldout_mixtures(get_config("small"), num)
  scores = {}
  for n in names:
    if not curve(os.path.join(out, n)):
      continue
    d = diarize.Diarizer.from_workdir(os.path.join(out, n))
    scores[n] = {}
    for decoder in ("tokens", "frames"):
      for collar in (0.0, 0.25):
        r, _ = scoring.score_synthetic(d.params, d.model, mixtures, batch=16, collar=collar,
                                        decoder=decoder)
        scores[n][(decoder, collar)] = r["overall"]["der"]
  base = {c: scoring.one_label_baseline(mixtures, c)["overall"]["der"] for c in (0.0, 0.25)}
  return scores, base


def report(out, names):
  rows = {n: curve(os.path.join(out, n)) for n in names}
  lines = ["| variant | change | minutes → val DER tokens / frames (collar 0), listening gap |",
           "|---|---|---|"]
  for n, pts in rows.items():
    cells = "; ".join(f"{t:.1f} min: {100 * d:.1f} / {100 * f:.1f}%, gap {g:.2f}"
                      for t, _, d, f, g in pts)
    lines.append(f"| {n} | {' '.join(VARIANTS[n]) or '(none)'} | {cells or 'no run'} |")
  scores, base = final_scores(out, names)
  lines += ["", "Final checkpoints on the same 200 held-out conversations (test-split voices):", "",
            "| variant | tokens, collar 0.25 | tokens, collar 0 | frames, collar 0.25 | "
            "frames, collar 0 |", "|---|---|---|---|---|"]
  for n, s in scores.items():
    lines.append(f"| {n} | " + " | ".join(f"{100 * s[(d, c)]:.1f}%" for d in ("tokens", "frames")
                                           for c in (0.25, 0.0)) + " |")
  lines.append(f"| oracle speech, one label | {100 * base[0.25]:.1f}% | {100 * base[0.0]:.1f}% "
               f"| | |")
  text = "\n".join(lines)
  print(text)
  with open(os.path.join(out, "curves.md"), "w") as f:
    f.write(text + "\n")
  import matplotlib  # noqa: PLC0415
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
  for n, pts in rows.items():
    if pts:
      axes[0].plot([p[0] for p in pts], [100 * p[2] for p in pts], "o-", label=n)
      axes[1].plot([p[0] for p in pts], [100 * p[3] for p in pts], "o-", label=n)
  for ax, title in zip(axes, ("greedy tokens", "frame head")):
    ax.set_xlabel("minutes of training (2-core CPU)")
    ax.set_ylabel("val DER % (collar 0)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(out, "curves.png"))


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m bench.learning_curves",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--out", required=True, help="directory of the runs and the report")
  p.add_argument("--minutes", type=float, default=8.0, help="training minutes per variant")
  p.add_argument("--eval-every", type=int, default=100, help="validation interval (steps)")
  p.add_argument("--variants", default=",".join(VARIANTS),
                 help=f"comma-separated, from {', '.join(VARIANTS)}")
  p.add_argument("--report", action="store_true", help="only report the finished runs")
  args = p.parse_args(argv)
  names = args.variants.split(",")
  unknown = [n for n in names if n not in VARIANTS]
  if unknown:
    p.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
  os.makedirs(args.out, exist_ok=True)
  if not args.report:
    for n in names:
      pts = curve(os.path.join(args.out, n))
      if pts and pts[-1][0] >= args.minutes * 0.95:
        print(f"== {n}: done ({pts[-1][0]:.1f} min)")
        continue
      train(n, args.out, args.minutes, args.eval_every)
  report(args.out, names)


if __name__ == "__main__":
  main()
