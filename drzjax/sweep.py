"""The ancestor's open question, answered by a command: how does DER move with each dial?

  python -m drzjax.evaluate --sweep=overlap,noise,speakers,loudness --out=DIR [--workdir=RUN]

For every setting of a dial, held-out synthetic mixtures of test-split voices (the model's own
config otherwise) are diarized and scored; "oracle speech, one label" is scored on the same
mixtures beside it. Writes DIR/sweep.csv, DIR/sweep.md and one DIR/sweep_<dial>.png per dial.
"""
import copy
import csv
import logging
import os

# dial -> (axis label, [(setting label, {config.data overrides})])
DIALS = {
    "overlap": ("interrupt_max (s): how far a turn may start inside the previous one",
                [(str(v), {"interrupt_max": v}) for v in (0.0, 0.25, 0.5, 1.0, 2.0)]),
    "noise": ("SNR (dB), noise on every mixture",
              [(str(v), {"noise_prob": 1.0, "snr_min": v, "snr_max": v})
               for v in (40.0, 20.0, 10.0, 5.0, 0.0)]),
    "speakers": ("voices per mixture",
                 [(str(n), {"num_speakers": n, "speaker_weights": ",".join(
                     "1" if k == n else "0" for k in range(2, n + 1))}) for n in (2, 3, 4, 5)]),
    "loudness": ("per-voice gain range (+/- dB)",
                 [(str(v), {"gain_db": v}) for v in (0.0, 6.0, 12.0, 18.0)]),
}


def run(d, dials, out, num=64, batch=16, collar=0.25, beam=1):
  """Score every setting of every dial with the Diarizer `d`; -> list of result rows."""
  from drzjax import plot, scoring  # noqa: PLC0415
  unknown = [x for x in dials if x not in DIALS]
  if unknown:
    raise ValueError(f"--sweep: unknown dial(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(DIALS)}")
  os.makedirs(out, exist_ok=True)
  rows = []
  for dial in dials:
    label, settings = DIALS[dial]
    for name, overrides in settings:
      config = copy.deepcopy(d.config)
      if "num_speakers" in overrides:
        config.tokens.max_label_len = max(config.tokens.max_label_len, 3 * 30 + 1)
      for k, v in overrides.items():
        config.data[k] = v
      mixtures, _ = scoring.heldout_mixtures(config, num)
      result, _ = scoring.score_synthetic(d.params, d.model, mixtures, beam, batch, collar,
                                          decoder=d.decoder)
      base = scoring.one_label_baseline(mixtures, collar)["overall"]
      r = result["overall"]
      row = {"dial": dial, "setting": name, "der": r["der"],
             "false_alarm": r["false_alarm"] / max(r["total"], 1e-9),
             "missed": r["missed"] / max(r["total"], 1e-9),
             "confusion": r["confusion"] / max(r["total"], 1e-9),
             "baseline_der": base["der"], "mixtures": num, "collar": collar,
             "decoder": d.decoder}
      rows.append(row)
      logging.info("%s=%s: DER %.2f%% (baseline %.2f%%)", dial, name, 100 * row["der"],
                   100 * row["baseline_der"])
    _plot(plot, [r for r in rows if r["dial"] == dial], label,
          os.path.join(out, f"sweep_{dial}.png"))
  with open(os.path.join(out, "sweep.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  with open(os.path.join(out, "sweep.md"), "w") as f:
    f.write(f"DER per dial setting: {num} held-out mixtures per row, collar {collar}, "
            f"decoder {d.decoder}\n\n| dial | setting | DER % | FA % | miss % | conf % | "
            "one-label baseline DER % |\n|---|---|---|---|---|---|---|\n")
    for r in rows:
      f.write(f"| {r['dial']} | {r['setting']} | {100 * r['der']:.2f} | "
              f"{100 * r['false_alarm']:.2f} | {100 * r['missed']:.2f} | "
              f"{100 * r['confusion']:.2f} | {100 * r['baseline_der']:.2f} |\n")
  print(open(os.path.join(out, "sweep.md")).read())
  return rows


def _plot(plot, rows, label, path):
  import matplotlib  # noqa: PLC0415
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415
  fig, ax = plt.subplots(figsize=(5, 3.2))
  x = range(len(rows))
  ax.plot(x, [100 * r["der"] for r in rows], "o-", label=f"drzjax ({rows[0]['decoder']})")
  ax.plot(x, [100 * r["baseline_der"] for r in rows], "s--", color="grey",
          label="oracle speech, one label")
  ax.set_xticks(list(x), [r["setting"] for r in rows])
  ax.set_xlabel(label)
  ax.set_ylabel(f"DER % (collar {rows[0]['collar']})")
  ax.set_ylim(bottom=0)
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  plot.save_png(fig, path)
