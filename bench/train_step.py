"""Train-step throughput and MFU on this machine: one device, the step as train.py builds it.

  python -m bench.train_step                                  # tiny and base, float32
  python -m bench.train_step --configs=base --batch=8 --steps=5 --dtype=bfloat16

Per config: make_optimizer + compile_steps + create_state on a 1-device mesh, one fixed random
batch (noise audio, random valid `s e L ... EOS` labels), warm-up, then N timed steps with
block_until_ready after each. Model FLOPs are flops_per_example (matmuls, fwd + bwd = 3x
fwd); beside them XLA's counts for the compiled step: its dot + convolution ops read from the
HLO, and cost_analysis()['flops'] (every op: FFT, elementwise, optimizer too). MFU is against
the float32 2048^3 matmul peak measured in the same run (best of 10 before and 10 after).
Timings are wall-clock on a shared machine: the median and best of N are both reported.
Prints a table, then one JSON line as the last line.
"""
import argparse
import json
import os
import re
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from configs.base import get_config  # noqa: E402
from drzjax import model as model_lib  # noqa: E402
from drzjax import sharding  # noqa: E402
from drzjax import tokens  # noqa: E402
from drzjax import train  # noqa: E402


def flops_per_example(cfg):
  """Matmul FLOPs of one training example, forward + backward (= 3x forward), for MFU.

  Forward, 2 FLOPs per multiply-add: per layer over all seq_len positions the qkv, out and MLP
  projections, plus QK^T and AV over the full (masked but computed) square; the head over the
  label positions only; the conv stem (k=3 over the mel frames, then k=3 stride 2). Not counted:
  the log-mel (FFT, filterbank), embeddings, norms and other elementwise work, the optimizer.
  """
  d, L, T = cfg.d_model, cfg.num_layers, cfg.seq_len
  frames = tokens.num_mel_frames(cfg.num_samples, cfg.hop)
  mid = -(-frames // cfg.strides[0])  # positions after the first convolution
  proj = 2 * T * (3 * d * d + d * d + 2 * cfg.mlp_ratio * d * d)  # qkv, out, mlp_in + mlp_out
  attn = 2 * 2 * T * T * d  # QK^T and AV, all heads
  head = 2 * cfg.max_label_len * d * cfg.vocab_size
  stem = 2 * 3 * (mid * cfg.n_mels * d + cfg.num_audio * d * d)
  return 3 * (L * (proj + attn) + head + stem)


def matmul_peak(n=2048, reps=10):
  """Best-of-reps FLOP/s of a jitted float32 n x n @ n x n matmul."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  f = jax.jit(jnp.matmul)
  f(a, b).block_until_ready()
  best = min(_timed(lambda: f(a, b).block_until_ready()) for _ in range(reps))
  return 2 * n ** 3 / best


def _timed(fn):
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def random_batch(cfg, batch, rng):
  """Noise audio plus random label rows `s e L s e L ... EOS PAD...` of valid ids."""
  vocab = cfg.vocab
  labels = np.zeros((batch, cfg.max_label_len), np.int32)
  for row in labels:
    n = int(rng.integers(1, (cfg.max_label_len - 1) // 3 + 1))  # triplets; EOS always fits
    s = rng.integers(2, vocab.first_speaker, n)
    e = np.minimum(s + rng.integers(0, 50, n), vocab.first_speaker - 1)
    k = vocab.speaker_id(rng.integers(0, vocab.speakers, n))
    row[:3 * n] = np.stack([s, e, k], 1).reshape(-1)
    row[3 * n] = tokens.EOS
  return {"audio": (0.01 * rng.standard_normal((batch, cfg.num_samples))).astype(np.float32),
          "labels": labels,
          "frames": (rng.random((batch, cfg.num_audio, cfg.speaker_slots)) < 0.3).astype(np.uint8),
          "num_samples": np.full((batch,), cfg.num_samples, np.int32)}


def xla_flops(compiled):
  """XLA's cost_analysis FLOPs of the whole compiled step (all ops), NaN if not provided."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan"))) if cost else float("nan")


_INSTR = re.compile(r"%([\w.\-]+) = \w+\[([\d,]*)\]\S* ([\w\-]+)\((.*)")


def hlo_matmul_flops(hlo_text):
  """FLOPs of the dot and convolution ops of optimised HLO text (operand shapes by name).

  Made for the CPU backend's HLO; NaN where the text is not understood (e.g. GPU gemm calls).
  """
  shapes, total = {}, 0
  for m in _INSTR.finditer(hlo_text):
    name, dims, op, rest = m.groups()
    shapes[name] = out = [int(x) for x in dims.split(",") if x]
    if op not in ("dot", "convolution"):
      continue
    lhs, rhs = (shapes[a] for a in re.findall(r"%([\w.\-]+)", rest.split(")")[0])[:2])
    if op == "dot":  # 2 * output * contracted size
      k = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", rest).group(1)
      total += 2 * np.prod(out) * np.prod([lhs[int(i)] for i in k.split(",") if i])
    else:  # 2 * output * (kernel window x input features) = rhs size / output features
      labels = re.search(r"dim_labels=\w+_(\w+)->", rest).group(1)
      total += 2 * np.prod(out) * np.prod(rhs) / rhs[labels.index("o")]
  return float(total) if total else float("nan")


def setup(c):
  """The train step as train.py builds it for config c, on a 1-device mesh, and its inputs:
  -> (model, mesh, jitted step, state, host batch (random_batch), device batch, abstract state).
  Run the step inside `with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES)`."""
  c.mesh.data, c.mesh.fsdp, c.mesh.tensor = 1, 1, 1
  mesh = sharding.make_mesh(c.mesh, jax.devices()[:1])
  train.check_config(c, mesh)
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(c))
  tx = train.make_optimizer(c.train)
  step_fn, _, abstract = train.compile_steps(model, tx, mesh, c)
  state = train.create_state(model, tx, mesh, c.seed)
  host = random_batch(model.cfg, c.train.batch_size, np.random.default_rng(0))
  return model, mesh, step_fn, state, host, sharding.global_batch(host, mesh), abstract


def bench(name, args):
  c = get_config(name)
  c.model.dtype = args.dtype
  if args.batch:
    c.train.batch_size = args.batch
  b = c.train.batch_size
  model, mesh, step_fn, state, _, batch, abstract = setup(c)
  with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
    t0 = time.perf_counter()
    compiled = step_fn.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(args.warmup + args.steps):
      t = time.perf_counter()
      state, metrics = compiled(state, batch)
      jax.block_until_ready((state, metrics))
      if i >= args.warmup:
        times.append(time.perf_counter() - t)
  loss = float(metrics["loss"])
  med, best = float(np.median(times)), min(times)
  flops = flops_per_example(model.cfg) * b
  xla = xla_flops(compiled)
  try:
    xla_mm = hlo_matmul_flops(compiled.as_text())
  except (KeyError, AttributeError, ValueError):
    xla_mm = float("nan")
  return {"batch": b, "params_m": model_lib.count_params(abstract.params) / 1e6,
          "steps": len(times), "compile_s": compile_s, "step_ms": 1e3 * med,
          "best_ms": 1e3 * best, "examples_per_s": b / med, "mixtures_per_s": b / med,
          "positions_per_s": model.cfg.seq_len * b / med, "model_flops": float(flops),
          "xla_matmul_flops": xla_mm, "xla_flops": xla, "flops_per_s": flops / med,
          "loss": loss}


def main():
  p = argparse.ArgumentParser(prog="python -m bench.train_step",
                              description=__doc__.splitlines()[0])
  p.add_argument("--configs", default="tiny,base")
  p.add_argument("--batch", type=int, default=0, help="override train.batch_size (0: config's)")
  p.add_argument("--steps", type=int, default=0, help="timed steps (0: 10 tiny, 3 otherwise)")
  p.add_argument("--warmup", type=int, default=1)
  p.add_argument("--dtype", default="float32", help="model compute dtype (float32 | bfloat16)")
  args = p.parse_args()

  peaks = [matmul_peak()]
  out = {}
  for name in args.configs.split(","):
    a = argparse.Namespace(**vars(args))
    a.steps = args.steps or (10 if name == "tiny" else 3)
    out[name] = bench(name, a)
  peaks.append(matmul_peak())
  peak = max(peaks)  # contention only ever lowers it: best of before and after
  for r in out.values():
    r["mfu"] = r["flops_per_s"] / peak
    r["mfu_best"] = r["model_flops"] / (r["best_ms"] / 1e3) / peak

  print(f"\n{jax.devices()[0].device_kind}, {os.cpu_count()} cores, dtype {args.dtype}; matmul "
        f"peak {peak / 1e9:.1f} GFLOP/s (f32 2048^3, best of 10 before "
        f"[{peaks[0] / 1e9:.1f}] and 10 after [{peaks[1] / 1e9:.1f}] the steps)")
  print("step times: median and best of the timed steps (shared machine; noisy). GFLOP/step: "
        "model = flops_per_example x batch; XLA matmul = dot + convolution ops of the compiled "
        "step's HLO; XLA all = cost_analysis()['flops'] (every op, optimizer included)")
  hdr = ("config", "batch", "params", "steps", "step ms med", "best", "ex/s = mix/s", "positions/s",
         "model GFLOP/step", "XLA matmul", "XLA all", "GFLOP/s", "MFU med", "MFU best")
  rows = [(n, r["batch"], f"{r['params_m']:.2f}M", r["steps"], f"{r['step_ms']:.1f}",
           f"{r['best_ms']:.1f}", f"{r['examples_per_s']:.2f}", f"{r['positions_per_s']:.0f}",
           f"{r['model_flops'] / 1e9:.2f}", f"{r['xla_matmul_flops'] / 1e9:.2f}",
           f"{r['xla_flops'] / 1e9:.2f}", f"{r['flops_per_s'] / 1e9:.1f}",
           f"{100 * r['mfu']:.1f}%", f"{100 * r['mfu_best']:.1f}%") for n, r in out.items()]
  widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
  for row in (hdr, *rows):
    print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))
  out.update(peak_flops=peak, dtype=args.dtype)
  print(json.dumps({k: ({kk: round(vv, 4) if isinstance(vv, float) else vv
                         for kk, vv in v.items()} if isinstance(v, dict) else v)
                    for k, v in out.items()}))


if __name__ == "__main__":
  main()
