"""The learning-curve tables of README.md beside this file, from run.sh's json files.

  PYTHONPATH=. python docs/model/real_data/table.py [scores ...] [--minutes-per-leg=5]
"""
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
  return json.load(open(path)) if os.path.exists(path) else None


def table(folder, per_leg):
  names = {os.path.basename(p).rsplit("_", 1)[0] for p in glob.glob(os.path.join(folder, "*.json"))}
  steps = sorted(int(m.group(1)) for n in names if (m := re.fullmatch(r"step(\d+)", n)))
  rows = [("untuned", "shipped model", 0.0)] + [
      (f"step{s}", f"step {s}", per_leg * (i + 1)) for i, s in enumerate(steps)]
  print(f"{os.path.relpath(folder, HERE)}:\n")
  print("| model | minutes | recordings DER % c=0.25 | c=0 | FA / miss / conf % (c=0.25) "
        "| 10 s chunks DER % c=0.25 | c=0 |")
  print("|---|---|---|---|---|---|---|")
  for name, label, minutes in rows:
    r = {c: load(os.path.join(folder, f"{name}_collar{c}.json")) for c in ("0.25", "0")}
    ch = load(os.path.join(folder, f"{name}_chunks.json"))
    o = r["0.25"]["overall"]
    parts = " / ".join(f"{100 * o[k] / o['total']:.1f}" for k in ("false_alarm", "missed",
                                                                  "confusion"))
    chunks = (f"{100 * ch['0.25']['der']:.2f} | {100 * ch['0.0']['der']:.2f}" if ch else "- | -")
    print(f"| {label} | {minutes:g} | {100 * o['der']:.2f} | {100 * r['0']['overall']['der']:.2f} "
          f"| {parts} | {chunks} |")
  b = {c: load(os.path.join(folder, f"untuned_collar{c}.json"))["baseline"]["der"]
       for c in ("0.25", "0")}
  ch = load(os.path.join(folder, "untuned_chunks.json"))
  chunks = (f"{100 * ch['0.25']['baseline']:.2f} | {100 * ch['0.0']['baseline']:.2f}" if ch
            else "- | -")
  print(f"| one label, oracle speech | - | {100 * b['0.25']:.2f} | {100 * b['0']:.2f} | - | "
        f"{chunks} |\n")


def main(argv):
  per_leg = float(next((a.split("=")[1] for a in argv if a.startswith("--minutes-per-leg=")), 5))
  folders = [a for a in argv if not a.startswith("--")] or ["scores"]
  for f in folders:
    table(os.path.join(HERE, f), per_leg)


if __name__ == "__main__":
  main(sys.argv[1:])
