"""What the speaker linking's CAM++ calls cost in `diarize`, and the floor under that cost.

  python -m bench.campp_cost                  # the shipped model on 10 minutes (bench.rtf's audio)
  python -m bench.campp_cost --minutes=5

1. One warm `Diarizer(...)(audio)` call (the default: embeddings + fill) with every
   `linking.embed` call counted and timed, by caller: the letters' clips (`chunks`) and the
   segments' (`segment_parts`); seconds of audio handed in, and after tiling to
   linking.CLIP_SECS.
2. The embedder alone: XLA's FLOP count for 30 s of audio, and warm wall time per call for clips
   of 1, 8 and 30 s (median of 5).
3. The floor: every second of speech embedded once, at the 30 s clip's rate, against
   `bench.rtf`'s "prompts, no fill" path (no linking), timed here in the same process.
Prints a table, then one JSON object.
"""
import argparse
import collections
import json
import os
import sys
import time

import numpy as np

from bench.rtf import SR, real_audio


def _median_seconds(fn, *args, repeats=5):
  import jax  # noqa: PLC0415
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m bench.campp_cost",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--minutes", type=float, default=10.0, help="audio length")
  a = p.parse_args(argv)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  from drzjax import diarize, linking  # noqa: PLC0415
  from drzjax.nets import campplus  # noqa: PLC0415
  d = diarize.Diarizer.pretrained()
  audio = real_audio(60 * a.minutes)
  secs = len(audio) / SR
  for linking_mode, fill in (("prompts", False), (diarize.DEFAULT_LINKING, True)):
    d.fill = fill
    d(audio[:30 * SR], linking=linking_mode)  # compile
  d.fill = False
  t = time.perf_counter()
  d(audio, linking="prompts")
  no_linking = time.perf_counter() - t
  d.fill = True

  stats = collections.defaultdict(lambda: {"calls": 0, "s": 0.0, "audio_s": 0.0, "tiled_s": 0.0})
  real_embed = linking.embed

  def counted(campp, clip, sr):
    row = stats[sys._getframe(1).f_code.co_name]
    fitted = linking.fit_clip(clip, sr)
    t0 = time.perf_counter()
    out = real_embed(campp, clip, sr)
    row["s"] += time.perf_counter() - t0
    row["calls"] += 1
    row["audio_s"] += len(clip) / sr
    row["tiled_s"] += 0 if fitted is None else len(fitted) / sr
    return out

  linking.embed = counted
  try:
    t = time.perf_counter()
    d(audio)
    total = time.perf_counter() - t
  finally:
    linking.embed = real_embed

  variables = d.campp()
  x30 = np.zeros((1, 30 * SR), np.float32)
  cost = campplus._embed.lower(variables, x30).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  gflop_30s = float(cost["flops"]) / 1e9
  rng = np.random.default_rng(0)
  per_call = {s: _median_seconds(campplus._embed, variables,
                                 (0.1 * rng.standard_normal((1, s * SR))).astype(np.float32))
              for s in (1, 8, 30)}
  per_audio_second = per_call[30] / 30
  letters = stats.get("chunks", {"audio_s": 0.0})["audio_s"]
  embed_s = sum(r["s"] for r in stats.values())

  print(f"shipped model, {secs:.0f} s of bench.rtf's audio, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}")
  print(f"{'CAM++ calls by caller':<24} {'calls':>6} {'seconds':>8} {'audio s':>8} {'tiled s':>8}")
  for name, r in sorted(stats.items()):
    print(f"{name:<24} {r['calls']:6d} {r['s']:8.2f} {r['audio_s']:8.0f} {r['tiled_s']:8.0f}")
  print(f"diarize (default) {total:.2f} s, of which CAM++ {embed_s:.2f} s; "
        f"without linking (prompts, no fill) {no_linking:.2f} s")
  print(f"CAM++: {gflop_30s:.1f} GFLOP per 30 s; warm call 1 s {1e3 * per_call[1]:.1f} ms, "
        f"8 s {1e3 * per_call[8]:.1f} ms, 30 s {1e3 * per_call[30]:.1f} ms "
        f"({gflop_30s / per_call[30]:.0f} GFLOP/s)")
  floor = letters * per_audio_second
  print(f"floor: the letters' {letters:.0f} s of speech embedded once = {floor:.2f} s, "
        f"{floor / no_linking:+.0%} of the time without linking (the issue allows +20%)")
  print(json.dumps({"diarize_s": round(total, 3), "campp_s": round(embed_s, 3),
                    "no_linking_s": round(no_linking, 3),
                    "calls": {k: dict(v) for k, v in stats.items()},
                    "gflop_per_30s": round(gflop_30s, 2),
                    "ms_per_call": {s: round(1e3 * v, 2) for s, v in per_call.items()},
                    "floor_s": round(floor, 3), "floor_cost": round(floor / no_linking, 3)}))


if __name__ == "__main__":
  main()
