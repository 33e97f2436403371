"""drzjax against its PyTorch ancestor (bench/torch_reference.py): the same model, parameters,
batch and threads, timed side by side.

  python -m bench.compare --config=configs/base.py:tiny
  python -m bench.compare --config=configs/base.py:base --rounds=7
  python -m bench.compare --config=configs/base.py:tiny --threads=1     # a busy machine

Needs torch (pip install -r bench/requirements.txt). Both models start from the same drzjax
initialisation and see bench.train_step.random_batch's batch (config's train.batch_size).
Timed, after --warmup calls each (default 3; compilation and the first steps' slower allocations
excluded):
  train step    drzjax's jitted step (train.py's, 1-device mesh) | the torch step: forward,
                drzjax's loss (smoothed token CE + frame BCE), backward, clip, fused AdamW
  forward       teacher-forced token + frame logits of the batch, no gradient
  generate      one chunk's labels, greedy with drzjax's grammar mask, min_len = max_len so
                that every side decodes exactly max_label_len tokens: drzjax.decode.decode
                (KV cache, one while_loop) | torch with a KV cache | torch as nanodrz did it (audio
                encoded once, then a Python loop re-running the decoder over the whole sequence
                per token)
Each round runs every contestant once, the order reversed every other round; the figures are
medians over rounds (>= 5), speedup = torch time / drzjax time.

Threads: XLA sizes its CPU thread pool to the CPUs the process may run on, so --threads=N pins
the process to N CPUs before jax starts and sets torch.set_num_threads(N); the printed XLA count
is of its pool's threads, counted. On a busy machine torch with several threads can run many
times slower (libgomp spin-waits for descheduled threads; OMP_WAIT_POLICY=PASSIVE helps):
compare there with --threads=1, or on a quiet machine.

The last line is one JSON object: train_step_speedup, generate_speedup_vs_recompute,
generate_speedup_vs_torch_kv, and mfu_cpu: drzjax's train-step MFU as bench/train_step.py
computes it (model FLOPs / median step time / f32 matmul peak, best of before and after).
"""
import argparse
import collections
import datetime
import importlib.util
import json
import os
import platform
import time


def parse_args(argv):
  p = argparse.ArgumentParser(prog="python -m bench.compare",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--config", default="configs/base.py:tiny",
                 help="config file and variant, FILE:VARIANT (default configs/base.py:tiny)")
  p.add_argument("--rounds", type=int, default=5, help="timed rounds (>= 5; default 5)")
  p.add_argument("--warmup", type=int, default=3,
                 help="untimed calls of each contestant before the rounds (default 3: drzjax's "
                      "first train steps after compiling ran up to 1.7x slower)")
  p.add_argument("--threads", type=int, default=0,
                 help="threads for both (0: every CPU this process may use)")
  args = p.parse_args(argv)
  if args.rounds < 5:
    p.error("--rounds must be >= 5 (medians of at least five alternating rounds)")
  return args


def load_config(spec):
  path, _, variant = spec.partition(":")
  module_spec = importlib.util.spec_from_file_location("compare_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  config = module.get_config(variant or None)
  # The same computation on both sides: nanodrz had the log-mel stem only, so the pretrained
  # front ends (base reads segmentation-3.0) are left out of the comparison.
  config.model.frontend = "mel"
  return config


def pin_threads(n):
  """Pins the process to n of its CPUs (before jax starts: XLA reads the mask once) -> n."""
  cpus = sorted(os.sched_getaffinity(0))
  n = n or len(cpus)
  if not 1 <= n <= len(cpus):
    raise SystemExit(f"--threads={n}: this process may use {len(cpus)} CPUs")
  os.sched_setaffinity(0, cpus[:n])
  return n


def xla_threads():
  """Threads of XLA's CPU intra-op pool in this process (named ...XLAEigen)."""
  names = []
  for t in os.listdir("/proc/self/task"):
    try:
      with open(f"/proc/self/task/{t}/comm") as f:
        names.append(f.read().strip())
    except OSError:
      pass
  return sum("XLAEigen" in n for n in names)


def rounds(contestants, n, warmup):
  """{name: [seconds]}: `warmup` untimed calls each, then n rounds of one call each, the order
  reversed every other round."""
  for fn in contestants.values():
    for _ in range(warmup):
      fn()
  times = collections.defaultdict(list)
  names = list(contestants)
  for r in range(n):
    for name in names if r % 2 == 0 else names[::-1]:
      t = time.perf_counter()
      contestants[name]()
      times[name].append(time.perf_counter() - t)
  return times


def cpu_name():
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or "unknown CPU"


def main(argv=None):
  args = parse_args(argv)
  config = load_config(args.config)
  threads = pin_threads(args.threads)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")

  import flax.linen as nn  # noqa: PLC0415 - after pinning: XLA sizes its pool at start
  import jax  # noqa: PLC0415
  import numpy as np  # noqa: PLC0415
  try:
    import torch  # noqa: PLC0415
  except ImportError:
    raise SystemExit("bench.compare needs torch: pip install -r bench/requirements.txt") from None

  from bench import torch_reference as tr  # noqa: PLC0415
  from bench import train_step as ts  # noqa: PLC0415
  from drzjax import decode  # noqa: PLC0415
  from drzjax import export  # noqa: PLC0415
  from drzjax import model as model_lib  # noqa: PLC0415
  from drzjax import sharding  # noqa: PLC0415
  from drzjax import tokens  # noqa: PLC0415

  torch.set_num_threads(threads)
  load0 = os.getloadavg()
  peak_before = ts.matmul_peak()

  # ---- drzjax: the train step as train.py builds it; the torch model with its parameters ----
  model, mesh, step_fn, state, host, batch, abstract = ts.setup(config)
  cfg, b = model.cfg, config.train.batch_size
  params = jax.device_get(state.params)  # before the first step donates the state
  tmodel = tr.load_flax(tr.DiarizationTransformer(cfg), export.flatten(params))
  n_jax, n_torch = model_lib.count_params(abstract.params), tr.count_params(tmodel)
  assert n_jax == n_torch, (n_jax, n_torch)
  tstep, tbatch = tr.TrainStep(tmodel, config.train), tr.torch_batch(host)

  jstate = {"state": state, "loss": None}
  tloss = {}

  def jax_train():
    with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
      jstate["state"], metrics = step_fn(jstate["state"], batch)
    jstate["loss"] = float(metrics["loss"])  # waits for the step

  def torch_train():
    tloss["loss"] = tstep(tbatch)

  forward = jax.jit(lambda p, a, lab: model.apply({"params": p}, a, lab, with_frames=True))
  dparams, daudio, dlabels = jax.device_put((params, host["audio"], host["labels"]))

  def jax_forward():
    jax.block_until_ready(forward(dparams, daudio, dlabels))

  def torch_forward():
    tmodel.eval()
    with torch.inference_mode():
      tmodel(tbatch["audio"], tbatch["labels"], with_frames=True)

  max_len = cfg.max_label_len
  wave = host["audio"][:1]
  twave = torch.as_tensor(wave)
  ids = {}

  def jax_generate():
    ids["drzjax"] = decode.decode(dparams, model, wave, min_len=max_len)

  def torch_kv():
    tmodel.eval()
    ids["torch kv"] = tr.generate(tmodel, twave, cache=True, min_len=max_len).numpy()

  def torch_recompute():
    tmodel.eval()
    ids["torch recompute"] = tr.generate(tmodel, twave, cache=False, min_len=max_len).numpy()

  times = {}
  times.update(rounds({"train drzjax": jax_train, "train torch": torch_train}, args.rounds,
                       args.warmup))
  tr.load_flax(tmodel, export.flatten(params))  # forward and generate: the initial parameters
  times.update(rounds({"forward drzjax": jax_forward, "forward torch": torch_forward},
                      args.rounds, args.warmup))
  times.update(rounds({"generate drzjax": jax_generate, "generate torch kv": torch_kv,
                       "generate torch recompute": torch_recompute}, args.rounds,
                      args.warmup))
  n_xla = xla_threads()
  peak = max(peak_before, ts.matmul_peak())
  load1 = os.getloadavg()
  for name, x in ids.items():
    assert (x != tokens.PAD).sum() == max_len, (name, (x != tokens.PAD).sum())
  same_ids = all((x == ids["drzjax"]).all() for x in ids.values())

  med = {k: float(np.median(v)) for k, v in times.items()}
  train_s = med["train drzjax"]
  mfu = ts.flops_per_example(cfg) * b / train_s / peak

  def paired(a, b_):  # median over rounds of the per-round ratio: robust to drifting load
    return float(np.median(np.asarray(times[b_]) / np.asarray(times[a])))

  print(f"\n{args.config}: d_model {cfg.d_model}, {cfg.num_layers} layers, {cfg.num_heads} heads, "
        f"{cfg.num_audio} audio + {max_len} label positions, vocab {cfg.vocab_size}; "
        f"{n_jax / 1e6:.3f}M parameters (both); train/forward batch {b}, generate batch 1")
  print(f"{cpu_name()}; {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"jax {jax.__version__}, torch {torch.__version__}")
  print(f"threads: XLA {n_xla} (pool threads counted; process pinned to "
        f"{len(os.sched_getaffinity(0))} CPUs), torch {torch.get_num_threads()} "
        f"(torch.set_num_threads); OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
  print(f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end, on {os.cpu_count()} CPUs; "
        f"median of {args.rounds} alternating rounds after {args.warmup} warm-up calls each")
  rows = [("train step", "train drzjax", "train torch", f"batch {b}"),
          ("forward", "forward drzjax", "forward torch", f"batch {b}, token + frame logits"),
          ("generate", "generate drzjax", "generate torch kv",
           f"{max_len} tokens, torch with KV cache"),
          ("generate", "generate drzjax", "generate torch recompute",
           f"{max_len} tokens, torch recomputing (nanodrz)")]
  hdr = ("", "drzjax ms", "torch ms", "speedup", "paired", "what")
  table = [(r[0], f"{1e3 * med[r[1]]:.1f}", f"{1e3 * med[r[2]]:.1f}",
            f"{med[r[2]] / med[r[1]]:.2f}x", f"{paired(r[1], r[2]):.2f}x", r[3]) for r in rows]
  widths = [max(len(str(x)) for x in col) for col in zip(hdr, *table)]
  for row in (hdr, *table):
    print("  ".join(str(x).ljust(w) if i in (0, 5) else str(x).rjust(w)
                    for i, (x, w) in enumerate(zip(row, widths))))
  print(f"speedup = median torch / median drzjax; paired = median of the per-round ratios. "
        f"Generated ids equal on all three: {same_ids}. Loss after {tstep.count} steps: drzjax "
        f"{jstate['loss']:.6f}, torch {tloss['loss']:.6f}. drzjax train step MFU "
        f"{100 * mfu:.1f}% ({ts.flops_per_example(cfg) * b / 1e9:.2f} GFLOP / "
        f"{1e3 * train_s:.1f} ms / f32 matmul peak {peak / 1e9:.1f} GFLOP/s)")
  print(json.dumps({
      "train_step_speedup": round(med["train torch"] / train_s, 3),
      "generate_speedup_vs_recompute": round(med["generate torch recompute"]
                                             / med["generate drzjax"], 3),
      "generate_speedup_vs_torch_kv": round(med["generate torch kv"] / med["generate drzjax"], 3),
      "mfu_cpu": round(mfu, 4), "config": args.config, "threads": threads}))


if __name__ == "__main__":
  main()
