"""Decode throughput: KV-cached greedy (drzjax.decode) vs the recompute baseline (the full forward
over audio + labels at every step, as nanodrz decodes), on a random-init model.

  python -m bench.decode                                   # base config, batches 1 and 16
  python -m bench.decode --recompute_tokens=91,16          # longer baseline runs
  python -m bench.decode --config=tiny --batches=1,4 --repeats=2

Every row decodes a fixed number of tokens: `min_len=max_len` makes EOS illegal until the last
label position, so the loop never stops early (a random model would otherwise end anywhere).
Timings exclude compilation (one warm-up call each); a decode includes its prefill. The two
methods are timed alternately (kv, recompute, kv, recompute, ...) so that both see the same
machine: on a shared CPU the speed drifts by up to 2x within minutes, and a memory-bound loop
(kv at batch 1) drifts more than a compute-bound one. The speedup is best tokens/s over best
tokens/s; the JSON also has the median of the per-pair ratios.

Both loops cost the same at every step (fixed-size cache / fixed-size sequence), so where the
baseline is too slow to run to max_len (--recompute_tokens, per batch) it runs only the first
N steps of the same full-length decode, ended by a forced EOS at label position N, and tokens/s
is computed over those N + 1 tokens.

Prints a table, then as its last line one JSON object; "speedup_vs_recompute" is the minimum over
the batch sizes (tokens/s KV / tokens/s recompute).
"""
import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs import base
from drzjax import decode as dec
from drzjax import tokens
from drzjax.model import DiarizationTransformer, ModelConfig


def parse_args(argv):
  p = argparse.ArgumentParser(prog="python -m bench.decode",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--config", default="base", help="configs/base.py variant (default base)")
  p.add_argument("--batches", default="1,16")
  p.add_argument("--recompute_tokens", default="31,7",
                 help="baseline steps per batch size (0 or >= max_len: the full length); its "
                      "per-step cost is constant, fewer steps only save time")
  p.add_argument("--repeats", type=int, default=5)
  return p.parse_args(argv)


def paired_times(fns, repeats):
  """Times of each fn, called alternately `repeats` times after one warm-up call each."""
  for fn in fns:
    fn()  # compile + warm up
  times = [[] for _ in fns]
  for _ in range(repeats):
    for fn, ts in zip(fns, times):
      t = time.perf_counter()
      fn()
      ts.append(time.perf_counter() - t)
  return [np.asarray(ts) for ts in times]


def stop_after(vocab, b, n):
  """Forced prefix of legal triplets with EOS at label position n: the loop ends after n+1."""
  trip = [2, 2, vocab.first_speaker]
  row = (trip * (n // 3 + 1))[:n] + [tokens.EOS]
  return np.tile(np.asarray(row, np.int32), (b, 1))


def main(argv=None):
  args = parse_args(argv)
  cfg = ModelConfig.from_config(base.get_config(args.config))
  model = DiarizationTransformer(cfg)
  batches = [int(x) for x in args.batches.split(",")]
  rec_tokens = [int(x) for x in args.recompute_tokens.split(",")]
  rec_tokens += [0] * (len(batches) - len(rec_tokens))
  max_len = cfg.max_label_len
  params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, cfg.num_samples)),
                               jnp.zeros((1, max_len), jnp.int32))["params"]
  print(f"config {args.config}: d_model {cfg.d_model}, {cfg.num_layers} layers, "
        f"{cfg.num_audio} audio + {max_len} label positions, vocab {cfg.vocab_size}; "
        f"device {jax.devices()[0].device_kind}; best of {args.repeats}")

  rows, speedups = [], {}
  result = {"kv_tokens_per_s": {}, "recompute_tokens_per_s": {}, "recompute_tokens": {},
            "median_paired_speedup": {}}
  for b, n_rec in zip(batches, rec_tokens):
    wave = np.random.default_rng(b).normal(0, 0.1, (b, cfg.num_samples)).astype(np.float32)
    kv = lambda: dec.decode(params, model, wave, min_len=max_len)
    assert (kv() != tokens.PAD).sum(1).min() == max_len  # really decoded max_len tokens
    if 0 < n_rec < max_len:
      forced = stop_after(cfg.vocab, b, n_rec)
      rec = lambda: dec.recompute_decode(params, model, wave, min_len=max_len, forced=forced)
      n_tok = n_rec + 1
    else:
      rec = lambda: dec.recompute_decode(params, model, wave, min_len=max_len)
      n_tok = max_len
    ts_kv, ts_rec = paired_times([kv, rec], args.repeats)
    t_kv, t_rec = ts_kv.min(), ts_rec.min()
    kv_tps, rec_tps = b * max_len / t_kv, b * n_tok / t_rec
    speedups[b] = kv_tps / rec_tps
    paired = np.median((max_len / ts_kv) / (n_tok / ts_rec))
    result["kv_tokens_per_s"][b] = round(kv_tps, 1)
    result["recompute_tokens_per_s"][b] = round(rec_tps, 1)
    result["recompute_tokens"][b] = n_tok
    result["median_paired_speedup"][b] = round(float(paired), 1)
    rows.append((b, "kv-cache greedy", max_len, t_kv, kv_tps, speedups[b]))
    rows.append((b, "recompute greedy", n_tok, t_rec, rec_tps, 1.0))

  print(f"{'batch':>5}  {'method':<17} {'tokens/row':>10} {'best s':>9} {'tokens/s':>10} "
        f"{'speedup':>8}")
  for b, name, n, t, tps, s in rows:
    print(f"{b:>5}  {name:<17} {n:>10} {t:>9.3f} {tps:>10.1f} {s:>7.1f}x")
  result = {"speedup_vs_recompute": round(min(speedups.values()), 1),
            "speedup_is": "min over batches",
            **{f"speedup_batch{b}": round(s, 1) for b, s in speedups.items()},
            **result, "config": args.config, "max_len": max_len,
            "device": jax.devices()[0].device_kind, "repeats": args.repeats}
  print(json.dumps(result))


if __name__ == "__main__":
  main()
