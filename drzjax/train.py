"""Training: state born sharded, one jitted step, the loop with logging, checkpoints and resume.

Read top to bottom: build the mesh, the bank and the data stream; create (or restore) the sharded
state; then loop: next batch -> train_step -> log -> checkpoint.
"""
import functools
import json
import logging
import math
import os
import signal
import time

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from drzjax import checkpoint as ckpt_lib
from drzjax import files
from drzjax import frontends
from drzjax import model as model_lib
from drzjax import sharding
from drzjax import tokens
from drzjax.data import pipeline


class TrainingError(Exception):
  """A run that must stop with a message (NaN loss, bad settings), not a traceback."""


class Interrupted(Exception):
  """Ctrl-C: a checkpoint was saved; main exits 130."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState


def lr_schedule(tc):
  return optax.warmup_cosine_decay_schedule(
      0.0, tc.lr, max(1, tc.warmup_steps), max(tc.steps, tc.warmup_steps + 1),
      end_value=tc.lr * tc.min_lr_ratio)


def make_optimizer(tc, frozen=()):
  """AdamW with clipping; the top-level parameter subtrees named in `frozen` (the pretrained
  front ends, frozen_keys) get no update at all: no step, no weight decay, no Adam state."""
  # Weight decay on matrices only: not on biases, LayerNorm scales or the <diarize> vector.
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)  # noqa: E731
  tx = optax.chain(
      optax.clip_by_global_norm(tc.grad_clip),
      optax.adamw(lr_schedule(tc), b1=tc.b1, b2=tc.b2, weight_decay=tc.weight_decay,
                  mask=decay_mask))
  if not frozen:
    return tx
  labels = lambda params: {k: "frozen" if k in frozen else "train" for k in params}  # noqa: E731
  return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


def frozen_keys(model_cfg):
  """The parameter subtrees the optimizer leaves alone: the pretrained front ends, unless
  model.frontend_trainable."""
  return () if model_cfg.frontend_trainable else tuple(
      frontends.FROZEN[n] for n in model_cfg.nets)


def init_state(model, tx, rng):
  params = model_lib.init_params(model, rng)
  return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))


def state_shardings(model, tx, mesh):
  """(abstract state with shardings, shardings) from logical names, without allocating."""
  boxed = jax.eval_shape(functools.partial(init_state, model, tx), jax.random.key(0))
  specs = nn.get_partition_spec(boxed)
  shardings = nn.logical_to_mesh_sharding(specs, mesh, sharding.RULES)
  abstract = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                          nn.meta.unbox(boxed), shardings)
  return abstract, shardings


def create_state(model, tx, mesh, seed):
  """Parameters are born sharded: jit(init, out_shardings=...)."""
  _, shardings = state_shardings(model, tx, mesh)
  init = jax.jit(lambda r: nn.meta.unbox(init_state(model, tx, r)), out_shardings=shardings)
  with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
    return init(jax.random.key(seed))


def token_targets(labels, vocab, sigma):
  """(B, L) ids -> (B, L, V) target distributions: one-hot, except time tokens, whose mass is
  a Gaussian of `sigma` bins over the neighbouring time bins (one bin off is then nearly right,
  not as wrong as five seconds off). sigma 0: one-hot everywhere."""
  onehot = jax.nn.one_hot(labels, vocab.size)
  if sigma <= 0:
    return onehot
  v = jnp.arange(vocab.size)
  is_time_v = vocab.is_time(v)
  d = (v[None, None, :] - labels[..., None]).astype(jnp.float32) / sigma
  w = jnp.where(is_time_v, jnp.exp(-0.5 * d * d), 0.0)
  w = w / jnp.maximum(w.sum(-1, keepdims=True), 1e-9)
  is_time = vocab.is_time(labels)
  return jnp.where(is_time[..., None], w, onehot)


def loss_terms(params, model, batch, rng, train, tc):
  """Summed token cross-entropy over label positions (PAD ignored) and summed frame BCE.

  -> {"ce": sum, "bce": sum}; the caller divides by the batch's counts (normalisers()).
  """
  logits, frame_logits = model.apply({"params": params}, batch["audio"], batch["labels"],
                                     train=train, with_frames=True, rngs={"dropout": rng})
  mask = (batch["labels"] != tokens.PAD).astype(jnp.float32)
  targets = token_targets(batch["labels"], model.cfg.vocab, tc.time_sigma)
  ce = optax.softmax_cross_entropy(logits, targets)
  bce = optax.sigmoid_binary_cross_entropy(frame_logits, batch["frames"].astype(jnp.float32))
  return {"ce": jnp.sum(ce * mask), "bce": jnp.sum(bce)}


def normalisers(batch):
  """Label positions and frame targets in the (global) batch: the loss is per token / frame."""
  return (jnp.maximum(jnp.sum(batch["labels"] != tokens.PAD), 1).astype(jnp.float32),
          jnp.asarray(np.prod(batch["frames"].shape), jnp.float32))


def objective(terms, counts, tc):
  n_tok, n_frames = counts
  return terms["ce"] / n_tok + tc.frame_weight * terms["bce"] / n_frames


def train_step(state, batch, model, tx, tc, seed):
  """One optimizer update over the global batch, split into tc.grad_accum microbatches.

  The objective is the mean token loss plus frame_weight x the mean frame loss over the whole
  global batch: each microbatch's sums are divided by the global counts, so the update does not
  depend on grad_accum (up to float summation order).
  """
  rng = jax.random.fold_in(jax.random.key(seed), state.step)
  counts = normalisers(batch)

  def obj(p, b, r):
    terms = loss_terms(p, model, b, r, True, tc)
    return objective(terms, counts, tc), terms

  grad_fn = jax.value_and_grad(obj, has_aux=True)

  def micro(carry, xs):
    b, i = xs
    (_, terms), g = grad_fn(state.params, b, jax.random.fold_in(rng, i))
    return jax.tree.map(jnp.add, carry, (g, terms)), None

  ga = tc.grad_accum
  if ga == 1:
    # No scan for one microbatch: on CPU the gradient inside a 1-step scan took 2.6x as long
    # (base: 905 vs 352 ms; bench.compare). Same rng (index 0), same result.
    (_, terms), grads = grad_fn(state.params, batch, jax.random.fold_in(rng, 0))
  else:
    micro_batches = jax.tree.map(lambda x: x.reshape((ga, x.shape[0] // ga) + x.shape[1:]), batch)
    zeros = (jax.tree.map(jnp.zeros_like, state.params),
             {"ce": jnp.zeros(()), "bce": jnp.zeros(())})
    (grads, terms), _ = jax.lax.scan(micro, zeros, (micro_batches, jnp.arange(ga)))
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  loss = objective(terms, counts, tc)
  # A diverged update is not applied: the returned state stays the last good one, and the loop
  # stops on the non-finite loss it reports.
  ok = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(params))
  new = TrainState(state.step + 1, params, opt_state)
  new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state)
  metrics = {"loss": jnp.where(ok, loss, jnp.nan), "grad_norm": optax.tree.norm(grads),
             "token_loss": terms["ce"] / counts[0], "frame_loss": terms["bce"] / counts[1],
             "audio_secs": jnp.sum(batch["num_samples"]) / model.cfg.sample_rate}
  return new, metrics


def eval_step(params, batch, model, tc):
  """Validation losses with the true audio, and with the same labels under another mixture's
  audio (the batch's audio rolled by one): the difference is the listening gap, ~0 for a model
  that ignores the audio."""
  counts = normalisers(batch)
  key = jax.random.key(0)
  true = loss_terms(params, model, batch, key, False, tc)
  other = dict(batch, audio=jnp.roll(batch["audio"], 1, axis=0))
  wrong = loss_terms(params, model, other, key, False, tc)
  return {"loss": objective(true, counts, tc), "token_loss": true["ce"] / counts[0],
          "frame_loss": true["bce"] / counts[1],
          "token_loss_other_audio": wrong["ce"] / counts[0]}


def compile_steps(model, tx, mesh, config):
  """jit the train step with explicit shardings and donated state; the eval step alongside."""
  abstract, state_sh = state_shardings(model, tx, mesh)
  batch_sh = sharding.batch_sharding(mesh)
  rep = sharding.replicated(mesh)
  step = jax.jit(
      functools.partial(train_step, model=model, tx=tx, tc=config.train, seed=config.seed),
      in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, rep), donate_argnums=(0,))
  evals = jax.jit(functools.partial(eval_step, model=model, tc=config.train),
                  in_shardings=(state_sh.params, batch_sh), out_shardings=rep)
  return step, evals, abstract


class MetricsLog:
  """metrics.jsonl + TensorBoard scalars, written by process 0 only.

  A resumed run replays the steps after its checkpoint: lines past `start_step` are dropped
  first, so every step appears once.
  """

  def __init__(self, workdir, start_step=0):
    self.active = jax.process_index() == 0
    if self.active:
      path = os.path.join(workdir, "metrics.jsonl")
      if os.path.exists(path):
        keep = []
        with open(path) as f:
          for line in f:
            try:
              if json.loads(line)["step"] <= start_step:
                keep.append(line if line.endswith("\n") else line + "\n")
            except (ValueError, KeyError, TypeError):
              pass  # a line cut by a kill: drop it
        with files.atomic_write(path) as f:
          f.writelines(keep)
      from tensorboardX import SummaryWriter  # noqa: PLC0415 - only the writing process needs it
      self.tb = SummaryWriter(logdir=workdir)
      self.jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")

  def write(self, step, scalars):
    if not self.active:
      return
    self.jsonl.write(json.dumps({"step": int(step), **{k: float(v) for k, v in scalars.items()}})
                     + "\n")
    self.jsonl.flush()
    for k, v in scalars.items():
      self.tb.add_scalar(k, float(v), int(step))
    self.tb.flush()

  def image(self, step, tag, image_hwc):
    if self.active:
      self.tb.add_image(tag, image_hwc, int(step), dataformats="HWC")
      self.tb.flush()

  def close(self):
    if self.active:
      self.tb.close()
      self.jsonl.close()


def init_from(path, params):
  """Fine-tuning: the parameters of an exported model (python -m drzjax.export) in place of the
  random ones, each put where the random one lives (same sharding)."""
  from drzjax import export  # noqa: PLC0415
  try:
    _, loaded, _ = export.load(os.path.expanduser(path))
  except (OSError, ValueError) as e:
    raise TrainingError(f"train.init_from={path}: {e}") from None
  want, got = ckpt_lib.shapes_of(params), ckpt_lib.shapes_of(loaded)
  # Parameters the export lacks (a front end added to a log-mel model: its projection starts at
  # zero) keep their initial values; anything else that differs is an error.
  diff = sorted({(k, tuple(v)) for k, v in got.items() if want.get(k) != v} |
                {(k, tuple(v)) for k, v in want.items() if k in got and got[k] != v})[:3]
  if diff:
    raise TrainingError(f"train.init_from={path}: its parameters do not fit this config's model "
                        f"(first differences: {diff})")
  new = sorted(k for k in want if k not in got)
  if new:
    logging.info("train.init_from: %d parameters not in %s keep their initial values (%s%s)",
                 len(new), path, ", ".join(new[:4]), ", ..." if len(new) > 4 else "")
  flat = {tuple(k.split("/")): v for k, v in export.flatten(loaded).items()}
  return jax.tree_util.tree_map_with_path(
      lambda kp, p: jax.device_put(np.asarray(
          flat.get(tuple(str(getattr(k, "key", k)) for k in kp), p), p.dtype), p.sharding),
      params)


def check_config(config, mesh):
  tc = config.train
  for key, low in (("steps", 1), ("log_every", 1), ("checkpoint_every", 1), ("eval_every", 0),
                   ("keep_checkpoints", 1), ("batch_size", 1), ("grad_accum", 1),
                   ("eval_size", 1)):
    if tc[key] < low:
      raise TrainingError(f"train.{key}={tc[key]} must be >= {low}")
  if not tc.max_minutes >= 0 or not tc.lr > 0:
    raise TrainingError(f"train.max_minutes={tc.max_minutes} must be >= 0 and train.lr="
                        f"{tc.lr} > 0")
  if tc.batch_size % tc.grad_accum:
    raise TrainingError(f"train.batch_size={tc.batch_size} is not divisible by "
                        f"train.grad_accum={tc.grad_accum}")
  shards = mesh.shape["data"] * mesh.shape["fsdp"]
  if (tc.batch_size // tc.grad_accum) % shards:
    raise TrainingError(f"microbatch {tc.batch_size // tc.grad_accum} does not split over the "
                        f"{shards} data x fsdp shards of mesh {dict(mesh.shape)}")
  if tc.batch_size % jax.process_count():
    raise TrainingError(f"train.batch_size={tc.batch_size} does not split over "
                        f"{jax.process_count()} processes")


def _eta(secs):
  if not math.isfinite(secs):
    return "?"
  h, m = divmod(int(secs) // 60, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{int(secs) % 60:02d}s"


def train_and_evaluate(config, workdir):
  from drzjax.data import build  # noqa: PLC0415 - builds the default bank on first use
  from drzjax import validate  # noqa: PLC0415

  tc = config.train
  workdir = os.path.abspath(os.path.expanduser(workdir))
  if problem := files.dir_problem(workdir, f"--workdir {workdir}"):
    raise TrainingError(problem)
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise TrainingError(f"--workdir {workdir}: cannot create it ({e.strerror})") from None
  lead = jax.process_index() == 0

  # ---- Mesh, model, optimizer ----
  mesh = sharding.make_mesh(config.mesh)
  check_config(config, mesh)
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
  tx = make_optimizer(tc, frozen_keys(model.cfg))
  step_fn, eval_fn, abstract = compile_steps(model, tx, mesh, config)
  logging.info("mesh %s over %d devices (%d processes); model %s: %.2fM parameters",
               dict(mesh.shape), jax.device_count(), jax.process_count(), config.variant,
               model_lib.count_params(abstract.params) / 1e6)

  # ---- Data: the speaker bank and this host's slice of the mixture stream ----
  bank_path = build.default_bank(config)
  spec = pipeline.ExampleSpec.from_config(config, bank_path, "train")
  if spec.real.weight > 0:  # index the recordings now: bad input stops the run before compiling
    real = pipeline.Synthesizer(spec).real()
    real.chunk(spec.seed, 0)  # and a source none of whose chunks fit the slots
    logging.info("%s; %.0f%% of the chunks", real.describe(), 100 * spec.real.weight)
  data_iter = iter(pipeline.dataset(spec, tc.batch_size, jax.process_index(),
                                    jax.process_count(), config.data.workers,
                                    config.data.prefetch))

  # ---- State: restore the newest good checkpoint, or start fresh ----
  mngr = ckpt_lib.manager(workdir, tc.keep_checkpoints)
  param_shapes = ckpt_lib.shapes_of(abstract.params)
  restored = ckpt_lib.restore_latest(mngr, abstract, data_iter, param_shapes)
  audio_secs = 0.0
  if restored:
    step, state, saved_meta = restored
    audio_secs = float(saved_meta.get("audio_secs", 0.0))
    logging.info("resuming from step %d (%s)", step, mngr.directory)
  else:
    step, state = 0, create_state(model, tx, mesh, config.seed)
    state = state.replace(params=frontends.fill(state.params, model.cfg.nets))
    if tc.init_from:
      state = state.replace(params=init_from(tc.init_from, state.params))
    logging.info("starting %s in %s", f"from {tc.init_from}" if tc.init_from else "from scratch",
                 workdir)
  if lead:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))
  meta = {"config": json.loads(config.to_json()), "param_shapes": param_shapes}
  log = MetricsLog(workdir, step)
  validator = validate.Validator(config, bank_path, model, mesh) if tc.eval_every else None

  preempted = []  # SIGTERM (preemption: save, exit 0) or SIGINT (Ctrl-C: save, exit 130)
  signal.signal(signal.SIGTERM, lambda *_: preempted.append("SIGTERM"))
  signal.signal(signal.SIGINT, lambda *_: preempted.append("SIGINT"))

  def save(step, state, metrics):
    if not np.isfinite(float(metrics["loss"])):
      return  # never overwrite a good checkpoint with a diverged state
    seen = audio_secs + float(metrics["audio_secs"])
    ckpt_lib.save(mngr, step, state, data_iter, dict(meta, audio_secs=seen), force=True)

  # ---- The loop ----
  positions_per_step = model.cfg.seq_len * tc.batch_size  # audio + label positions
  t_last, step_last, last = time.time(), step, None
  t_start, t_valid = time.time(), 0.0
  # The ETA counts steady steps only: the first step of a start or resume includes compiling
  # (minutes for base on a CPU), which would inflate it several-fold.
  t_steady, step_steady = None, None
  if lead:
    logging.info("compiling the train step (the first step waits for it)")
  deadline = t_start + 60 * tc.max_minutes if tc.max_minutes > 0 else math.inf
  try:
    while step < tc.steps:
      batch = sharding.global_batch(next(data_iter), mesh)
      with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
        state, metrics = step_fn(state, batch)
      step += 1
      if t_steady is None:
        jax.block_until_ready(metrics)
        t_steady, step_steady = time.time(), step
        if lead:
          logging.info("first step done in %.1f s (compilation included)", t_steady - t_last)
      # Check the previous step's loss while this one runs: a sync that does not stall the device.
      if last is not None:
        prev = jax.device_get(last)
        audio_secs += float(prev["audio_secs"])
        if not np.isfinite(prev["loss"]):
          raise TrainingError(f"loss is {prev['loss']} at step {step - 1}; stopping. The last good "
                              f"checkpoint in {mngr.directory} is kept (steps {mngr.all_steps()})")
      last = metrics
      if step % tc.log_every == 0 or step == tc.steps:
        m = jax.device_get(metrics)
        if not np.isfinite(m["loss"]):
          raise TrainingError(f"loss is {m['loss']} at step {step}; stopping. The last good "
                              f"checkpoint in {mngr.directory} is kept (steps {mngr.all_steps()})")
        now = time.time()
        sps = (step - step_last) / max(now - t_last, 1e-9)
        t_last, step_last = now, step
        scalars = {"loss": m["loss"], "token_loss": m["token_loss"],
                   "frame_loss": m["frame_loss"], "lr": lr_schedule(tc)(step - 1),
                   "grad_norm": m["grad_norm"],
                   "steps_per_s": sps, "positions_per_s": sps * positions_per_step,
                   "audio_hours": (audio_secs + float(m["audio_secs"])) / 3600}
        log.write(step, scalars)
        if lead:
          logging.info("step %d/%d  loss %.4f  lr %.2e  gnorm %.2f | %.2f steps/s %.0f "
                       "positions/s | %.2f h audio | ETA %s", step, tc.steps, m["loss"],
                       scalars["lr"], m["grad_norm"], sps, scalars["positions_per_s"],
                       scalars["audio_hours"],
                       _eta((tc.steps - step) * (now - t_steady) / (step - step_steady)
                            if step > step_steady else math.inf))
      out_of_time = time.time() > deadline
      if validator and (step % tc.eval_every == 0 or out_of_time or step == tc.steps):
        # Learning curves are DER against minutes of training: validation time not counted.
        v0 = time.time()
        validator.run(step, state.params, eval_fn, log, (v0 - t_start - t_valid) / 60)
        t_valid += time.time() - v0
      if step % tc.checkpoint_every == 0 or step == tc.steps or preempted or out_of_time:
        save(step, state, jax.device_get(metrics))
      if preempted and preempted[0] == "SIGINT":
        raise Interrupted(f"interrupted at step {step}; saved a checkpoint, rerun to resume")
      if preempted:
        logging.info("SIGTERM: saved a checkpoint at step %d, exiting", step)
        break
      if out_of_time:
        logging.info("train.max_minutes=%g reached: saved a checkpoint at step %d; rerun to "
                     "continue", tc.max_minutes, step)
        break
  finally:
    mngr.wait_until_finished()
    log.close()
  return state
