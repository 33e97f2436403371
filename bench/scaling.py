"""Train-step and decode time against audio length and model size: where attention's quadratic
cost takes over.

  python -m bench.scaling                                       # tiny, small, base x 5..60 s
  python -m bench.scaling --variants=tiny,small --secs=5,10,20 --repeats=5 --out=/tmp/s.png

Per variant (configs/base.py) and chunk length: the config with data.max_secs = that length
(positions: 12.5 per second of audio, 80 ms each; tokens.vocab_size grown to keep one time bin
per position, as the configs do; max_label_len left at the variant's, so only the audio part
of the sequence grows) and model.frontend = "mel" for every variant: the pretrained front ends
(base reads segmentation-3.0) would add their own cost and need their weights, so base here is
its log-mel transformer only. Each configuration is compiled and warmed up, then a variant's
lengths are timed round-robin, --repeats rounds (the order reversed every other round), so the
shared machine's drift falls on all of them alike; a figure is the median over rounds of one
sample, and a sample repeats a call shorter than --min_sample_s back to back and takes the mean:
  train step   bench.train_step.setup's jitted step (train.py's), batch --batch, noise audio
  prefill      model.prefill over the audio + <diarize> (the encoder pass), batch 1
  decode       decode.decode greedy, batch 1, min_len = max_len: EOS is illegal until the last
               label position, so every length decodes the same max_label_len tokens (a random
               model would otherwise stop anywhere); its time includes the prefill, and
               per token = (decode - prefill) / (max_len - 1)
ms/s = the train step's milliseconds per second of audio it reads (step / (batch x seconds)).

Attention's share of FLOPs, from the config: per layer QK^T and AV cost 2 T^2 d each (T = audio
+ label positions, computed over the whole masked square) against the dense matmuls' 2 T (4 d^2
+ 2 d ff) (qkv, out, mlp_in, mlp_out; ff = mlp_ratio d). The layer share passes 1/2 at
T = 2 d + ff positions. The step share also counts the conv stem and the head
(bench.train_step.flops_per_example). From the timings: the length from which ms/s is >= 20%
above its minimum (after it), and GFLOP/s (model FLOPs / step time): it falls with length where
the T^2 work that is not a matmul (mask, softmax and their gradients, memory-bound on a CPU)
grows.

A configuration is skipped, with its reason printed, when it does not fit in memory or its
step would take longer than --max_step_s (predicted from the previous length's step by model
FLOPs, or measured by the step after its first call). Prints a table and the crossings, writes a
PNG plot (ms per second of audio against length, log-log, one line per variant: the train step,
and the decode and its prefill) to --out, in the current directory by default (from the
repository root, give --out=/tmp/...), and prints as its last line one JSON object with the rows.
"""
import argparse
import json
import os
import time

def parse_args(argv):
  p = argparse.ArgumentParser(prog="python -m bench.scaling",
                              description=__doc__.split("\n\n")[0].replace("\n", " "))
  p.add_argument("--variants", default="tiny,small,base", help="configs/base.py variants")
  p.add_argument("--secs", default="5,10,20,30,60", help="chunk lengths in seconds")
  p.add_argument("--batch", type=int, default=2, help="train-step batch (decode: 1)")
  p.add_argument("--repeats", type=int, default=3, help="timed rounds (median; >= 3)")
  p.add_argument("--min_sample_s", type=float, default=0.3,
                 help="a sample repeats a short call until it lasts about this long (<= 100x)")
  p.add_argument("--max_step_s", type=float, default=30.0,
                 help="skip a configuration whose train step would take longer")
  p.add_argument("--no_decode", action="store_true", help="time the train step only")
  p.add_argument("--out", default="bench_scaling.png", help="the plot (PNG)")
  args = p.parse_args(argv)
  if args.repeats < 3:
    p.error("--repeats must be >= 3 (medians of at least three)")
  return args


# ---------------------------------------------------------------------------------------------
# The configuration at a length, and attention's share of the FLOPs (arithmetic; nothing runs).

def scaled_config(variant, secs, batch=2):
  """configs/base.py's `variant` reading `secs`-second chunks with the log-mel front end."""
  from configs.base import get_config  # noqa: PLC0415
  from drzjax import tokens  # noqa: PLC0415
  c = get_config(variant)
  c.data.max_secs = float(secs)
  c.data.min_secs = min(c.data.min_secs, float(secs))
  c.model.frontend = "mel"
  n = tokens.num_positions(tokens.num_samples(secs, c.data.sample_rate), c.model.hop,
                           c.model.strides)
  c.tokens.vocab_size = n + 2 + c.tokens.speaker_slots  # one time bin per audio position
  c.train.batch_size = batch
  return c


def attention_share_at(t, d, ff):
  """Share of one layer's forward matmul FLOPs at T = t positions taken by QK^T and AV."""
  attn = 2 * 2 * t * t * d
  dense = 2 * t * (4 * d * d + 2 * d * ff)
  return attn / (attn + dense)


def crossing_positions(d, ff):
  """The fewest positions T at which attention_share_at(T, d, ff) >= 1/2 (bisection)."""
  lo, hi = 1, 2
  while attention_share_at(hi, d, ff) < 0.5:
    lo, hi = hi, 2 * hi
  while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if attention_share_at(mid, d, ff) < 0.5 else (lo, mid)
  return hi


def attention_share(cfg):
  """model.ModelConfig -> attention's share of a layer's matmul FLOPs at its seq_len."""
  return attention_share_at(cfg.seq_len, cfg.d_model, cfg.mlp_ratio * cfg.d_model)


def step_attention_share(cfg):
  """Attention's share of the whole step's model FLOPs (bench.train_step.flops_per_example:
  layers, conv stem and head, fwd + bwd)."""
  from bench.train_step import flops_per_example  # noqa: PLC0415
  return 3 * cfg.num_layers * 4 * cfg.seq_len ** 2 * cfg.d_model / flops_per_example(cfg)


def model_config(variant, secs):
  from drzjax.model import ModelConfig  # noqa: PLC0415
  return ModelConfig.from_config(scaled_config(variant, secs))


def crossing_secs(variant, share=step_attention_share, hi=3600.0):
  """The shortest chunk, in seconds on a 0.1 s grid, at which `share` of `variant`'s config is
  >= 1/2 (bisection; inf if not within `hi` seconds)."""
  at = lambda tenths: share(model_config(variant, tenths / 10))  # noqa: E731
  lo, hi = 1, int(10 * hi)
  if at(hi) < 0.5:
    return float("inf")
  while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if at(mid) < 0.5 else (lo, mid)
  return hi / 10


# ---------------------------------------------------------------------------------------------
# The timing curve.

def rising_from(secs, ms_per_s, rise=1.2):
  """The first length after the cheapest ms/s whose ms/s is >= rise x that minimum (None)."""
  i = min(range(len(secs)), key=lambda k: ms_per_s[k])
  return next((s for s, m in zip(secs[i + 1:], ms_per_s[i + 1:]) if m >= rise * ms_per_s[i]),
              None)


# ---------------------------------------------------------------------------------------------
# Measurements.

def sampler(fn, min_sample_s):
  """fn, already warmed up (compiled) -> a callable returning one sample of fn's seconds per
  call: k calls back to back over k, k (<= 100) chosen so that a sample lasts about
  min_sample_s (a 4 ms step is then not one scheduler tick's worth)."""
  from bench.train_step import _timed  # noqa: PLC0415
  k = int(min(100, max(1, -(-min_sample_s // max(_timed(fn), 1e-6)))))
  return lambda: _timed(lambda: [fn() for _ in range(k)]) / k


def prepare(variant, secs, args):
  """One configuration compiled and warmed up: -> (row, {column: sampler}) for the train step,
  the prefill and the fixed-length greedy decode, or a str saying why it is skipped."""
  import flax.linen as nn  # noqa: PLC0415
  import jax  # noqa: PLC0415
  from bench.train_step import _timed, setup  # noqa: PLC0415
  from drzjax import decode as dec  # noqa: PLC0415
  from drzjax import sharding  # noqa: PLC0415
  from drzjax import tokens  # noqa: PLC0415

  c = scaled_config(variant, secs, args.batch)
  model, mesh, step_fn, state, host, batch, _ = setup(c)
  cfg = model.cfg
  params = jax.device_put(jax.device_get(state.params))  # before the step donates the state
  row = {"variant": variant, "secs": float(secs), "audio_pos": cfg.num_audio,
         "seq_len": cfg.seq_len, "label_len": cfg.max_label_len,
         "attn_share_layer": attention_share(cfg), "attn_share_step": step_attention_share(cfg)}
  t0 = time.perf_counter()
  with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
    compiled = step_fn.lower(state, batch).compile()
  row["compile_s"] = time.perf_counter() - t0
  box = {"state": state}

  def train_step():
    with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
      box["state"], metrics = compiled(box["state"], batch)
      jax.block_until_ready((box["state"], metrics))

  # The first call after compiling is slower (allocation); the second estimates the step.
  first = _timed(train_step)
  row["warm_step_s"] = first if first > 2 * args.max_step_s else _timed(train_step)
  if row["warm_step_s"] > args.max_step_s:
    return f"its warm-up step took {row['warm_step_s']:.1f} s > --max_step_s={args.max_step_s:g}"
  samplers = {"step_ms": sampler(train_step, args.min_sample_s)}
  if not args.no_decode:
    wave = host["audio"][:1]
    mcls = type(model)
    prefill = jax.jit(lambda p, w: model.apply(
        {"params": p}, w, model.apply({"params": p}, 1, method=mcls.init_cache),
        method=mcls.prefill))
    n = cfg.max_label_len

    def greedy():
      ids = dec.decode(params, model, wave, min_len=n)  # numpy: already waited for
      assert (ids != tokens.PAD).sum() == n, "decoded fewer than max_label_len tokens"

    for name, fn in (("prefill_ms", lambda: jax.block_until_ready(prefill(params, wave))),
                     ("decode_ms", greedy)):
      fn()  # compile
      samplers[name] = sampler(fn, args.min_sample_s)
  return row, samplers


def measure(prepared, repeats):
  """Every prepared configuration's samplers, round-robin over `repeats` rounds (the order
  reversed every other round), so that the machine's drift falls on all lengths alike; fills
  each row with the medians, in ms."""
  import numpy as np  # noqa: PLC0415
  samples = [{k: [] for k in s} for _, s in prepared]
  for r in range(repeats):
    order = list(range(len(prepared)))
    for i in order if r % 2 == 0 else order[::-1]:
      for name, sample in prepared[i][1].items():
        samples[i][name].append(sample())
  for (row, _), got in zip(prepared, samples):
    row.update({k: 1e3 * float(np.median(v)) for k, v in got.items()})


def plot(rows, crossings, path):
  """ms per second of audio against chunk length, log-log, one line per variant: the train step
  (left) and, where timed, the decode and its prefill (right); dotted where attention is half
  of a layer's FLOPs."""
  import matplotlib  # noqa: PLC0415
  import matplotlib.ticker  # noqa: PLC0415
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415
  decoded = all("decode_ms" in r for r in rows)
  fig, axes = plt.subplots(1, 2 if decoded else 1, figsize=(11 if decoded else 6, 4.4),
                           squeeze=False)
  axes = list(axes[0])
  longest = max(r["secs"] for r in rows)
  for k, variant in enumerate(dict.fromkeys(r["variant"] for r in rows)):
    mine = [r for r in rows if r["variant"] == variant]
    color = f"C{k}"
    x = [r["secs"] for r in mine]
    axes[0].plot(x, [r["ms_per_s"] for r in mine], "o-", color=color, label=f"{variant} step")
    if decoded:
      axes[1].plot(x, [r["decode_ms"] / r["secs"] for r in mine], "o-", color=color,
                   label=f"{variant} decode")
      axes[1].plot(x, [r["prefill_ms"] / r["secs"] for r in mine], "s--", color=color,
                   label=f"{variant} prefill")
    at = crossings[variant]["layer_secs"]
    if at <= 2.5 * longest:
      for ax in axes:
        ax.axvline(at, color=color, ls=":", lw=1)
        ax.annotate(f"{variant}: {at:g} s", (at, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, ha="right", va="bottom", fontsize=7, color=color)
  axes[0].set_title(f"train step (batch {rows[0].get('batch', '?')}): ms per second of audio\n"
                    "dotted: attention = 1/2 of a layer's FLOPs")
  if decoded:
    axes[1].set_title("greedy decode of max_label_len tokens (batch 1)\nand its prefill: ms per "
                      "second of audio")
  ticks = sorted({r["secs"] for r in rows})
  for ax in axes:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunk length (s of audio)")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{s:g}" for s in ticks])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
  axes[0].set_ylabel("ms per second of audio")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv=None):
  args = parse_args(argv)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  import jax  # noqa: PLC0415
  from bench.train_step import flops_per_example  # noqa: PLC0415

  variants = args.variants.split(",")
  lengths = [float(s) for s in args.secs.split(",")]
  load0 = os.getloadavg()
  print(f"{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, load average "
        f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; model.frontend=mel for every variant; "
        f"train batch {args.batch}, decode batch 1; median of {args.repeats}", flush=True)
  rows, skipped = [], []
  for variant in variants:
    prepared, last = [], None  # last: (model FLOPs, warm-up step s) of the previous length
    for secs in lengths:
      flops = flops_per_example(model_config(variant, secs))
      if last and last[1] * flops / last[0] > args.max_step_s:
        got = (f"predicted step {last[1] * flops / last[0]:.1f} s (the previous length's scaled "
               f"by model FLOPs) > --max_step_s={args.max_step_s:g}")
      else:
        try:
          got = prepare(variant, secs, args)
        except (MemoryError, RuntimeError) as e:  # XlaRuntimeError is a RuntimeError
          if "RESOURCE_EXHAUSTED" not in str(e) and not isinstance(e, MemoryError):
            raise
          got = f"out of memory ({str(e).splitlines()[0][:120]})"
      if isinstance(got, str):
        print(f"  skip {variant} {secs:g} s: {got}", flush=True)
        skipped.append({"variant": variant, "secs": secs, "reason": got})
        continue
      prepared.append(got)
      last = (flops, got[0]["warm_step_s"])
      print(f"  {variant} {secs:g} s: compiled in {got[0]['compile_s']:.1f} s, warm-up step "
            f"{1e3 * last[1]:.1f} ms (load {os.getloadavg()[0]:.2f})", flush=True)
    measure(prepared, args.repeats)
    for r, _ in prepared:
      r["batch"] = args.batch
      r["ms_per_s"] = r["step_ms"] / (args.batch * r["secs"])
      r["gflop_per_s"] = flops_per_example(model_config(variant, r["secs"])) * args.batch / (
          1e6 * r["step_ms"])
      if "decode_ms" in r:
        r["token_ms"] = (r["decode_ms"] - r["prefill_ms"]) / (r["label_len"] - 1)
      rows.append(r)
    print(f"  {variant}: timed, {args.repeats} rounds (load {os.getloadavg()[0]:.2f})",
          flush=True)
    del prepared
  load1 = os.getloadavg()

  crossings = {}
  for variant in variants:
    cfg = model_config(variant, lengths[0])
    mine = [r for r in rows if r["variant"] == variant]
    crossings[variant] = {
        "layer_positions": crossing_positions(cfg.d_model, cfg.mlp_ratio * cfg.d_model),
        "layer_secs": crossing_secs(variant, attention_share),
        "step_secs": crossing_secs(variant),
        "timing_rises_from_secs": rising_from([r["secs"] for r in mine],
                                              [r["ms_per_s"] for r in mine]) if mine else None,
        "ms_per_s_longest_over_min": round(mine[-1]["ms_per_s"] / min(r["ms_per_s"] for r in mine),
                                           2) if mine else None}

  hdr = ("variant", "secs", "positions", "step ms", "ms/s audio", "GFLOP/s", "prefill ms",
         "decode ms", "ms/token", "attn % layer", "attn % step")
  ms = lambda r, k, f: format(r[k], f) if k in r else "-"  # noqa: E731
  table = [(r["variant"], f"{r['secs']:g}", f"{r['audio_pos']}+{r['label_len']}",
            f"{r['step_ms']:.1f}", f"{r['ms_per_s']:.2f}", f"{r['gflop_per_s']:.1f}",
            ms(r, "prefill_ms", ".1f"), ms(r, "decode_ms", ".1f"), ms(r, "token_ms", ".2f"),
            f"{100 * r['attn_share_layer']:.1f}",
            f"{100 * r['attn_share_step']:.1f}") for r in rows]
  print(f"\nload average {load0[0]:.2f} at start, {load1[0]:.2f} at end; positions = audio + "
        f"label; ms/s audio = step / (batch {args.batch} x secs); decode = greedy, batch 1, "
        f"max_label_len tokens, prefill included")
  widths = [max(len(str(x)) for x in col) for col in zip(hdr, *table)]
  for line in (hdr, *table):
    print("  ".join(str(x).rjust(w) for x, w in zip(line, widths)))
  print("\nwhere attention's quadratic cost takes over (attention >= 1/2 of the FLOPs; T = 2d + ff):")
  for variant, x in crossings.items():
    cfg = model_config(variant, lengths[0])
    rise = x["timing_rises_from_secs"]
    print(f"  {variant} (d {cfg.d_model}, ff {cfg.mlp_ratio * cfg.d_model}, {cfg.num_layers} "
          f"layers, {cfg.max_label_len} label positions): FLOPs: layers at T = "
          f"{x['layer_positions']} positions = {x['layer_secs']:g} s of audio, whole step at "
          f"{x['step_secs']:g} s; timing: ms/s >= 1.2 x its minimum from "
          + (f"{rise:g} s" if rise else "nowhere in this sweep")
          + (f", longest / cheapest ms/s = {x['ms_per_s_longest_over_min']:.2f}"
             if x["ms_per_s_longest_over_min"] else ""))
  for s in skipped:
    print(f"  skipped {s['variant']} {s['secs']:g} s: {s['reason']}")
  if rows:
    plot(rows, crossings, args.out)
    print(f"plot: {os.path.abspath(args.out)}")
  rnd = lambda v: round(v, 4) if isinstance(v, float) else v  # noqa: E731
  print(json.dumps({"rows": [{k: rnd(v) for k, v in r.items()} for r in rows],
                    "crossings": crossings, "skipped": skipped, "batch": args.batch,
                    "repeats": args.repeats, "frontend": "mel",
                    "device": jax.devices()[0].device_kind, "cpus": os.cpu_count(),
                    "load_avg": [round(load0[0], 2), round(load1[0], 2)]}))


if __name__ == "__main__":
  main()
