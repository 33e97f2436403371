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
from drzjax import model as model_lib
from drzjax import sharding
from drzjax import tokens
from drzjax.data import pipeline


class TrainingError(Exception):
  """A run that must stop with a message (NaN loss, bad settings), not a traceback."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState


def lr_schedule(tc):
  return optax.warmup_cosine_decay_schedule(
      0.0, tc.lr, max(1, tc.warmup_steps), max(tc.steps, tc.warmup_steps + 1),
      end_value=tc.lr * tc.min_lr_ratio)


def make_optimizer(tc):
  # Weight decay on matrices only: not on biases, LayerNorm scales or the <diarize> vector.
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)  # noqa: E731
  return optax.chain(
      optax.clip_by_global_norm(tc.grad_clip),
      optax.adamw(lr_schedule(tc), b1=tc.b1, b2=tc.b2, weight_decay=tc.weight_decay,
                  mask=decay_mask))


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


def loss_sums(params, model, batch, rng, train):
  """Summed cross-entropy over label positions (PAD ignored) and the number of such positions."""
  logits = model.apply({"params": params}, batch["audio"], batch["labels"], train=train,
                       rngs={"dropout": rng})
  mask = (batch["labels"] != tokens.PAD).astype(jnp.float32)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"])
  return jnp.sum(ce * mask), jnp.sum(mask)


def train_step(state, batch, model, tx, grad_accum, seed):
  """One optimizer update over the global batch, split into grad_accum microbatches.

  The loss is the mean over all label positions of the global batch, so the update does not
  depend on grad_accum (up to float summation order).
  """
  rng = jax.random.fold_in(jax.random.key(seed), state.step)
  grad_fn = jax.value_and_grad(lambda p, b, r: loss_sums(p, model, b, r, True), has_aux=True)

  def micro(carry, xs):
    b, i = xs
    (loss_sum, n), g = grad_fn(state.params, b, jax.random.fold_in(rng, i))
    return jax.tree.map(jnp.add, carry, (g, loss_sum, n)), None

  micro_batches = jax.tree.map(
      lambda x: x.reshape((grad_accum, x.shape[0] // grad_accum) + x.shape[1:]), batch)
  zeros = (jax.tree.map(jnp.zeros_like, state.params), jnp.zeros(()), jnp.zeros(()))
  (grads, loss_sum, n), _ = jax.lax.scan(micro, zeros, (micro_batches, jnp.arange(grad_accum)))
  n = jnp.maximum(n, 1.0)
  grads = jax.tree.map(lambda g: g / n, grads)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  loss = loss_sum / n
  # A diverged update is not applied: the returned state stays the last good one, and the loop
  # stops on the non-finite loss it reports.
  ok = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(params))
  new = TrainState(state.step + 1, params, opt_state)
  new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state)
  metrics = {"loss": jnp.where(ok, loss, jnp.nan), "grad_norm": optax.tree.norm(grads),
             "audio_secs": jnp.sum(batch["num_samples"]) / model.cfg.sample_rate}
  return new, metrics


def eval_step(params, batch, model):
  loss_sum, n = loss_sums(params, model, batch, jax.random.key(0), False)
  return loss_sum / jnp.maximum(n, 1.0)


def compile_steps(model, tx, mesh, config):
  """jit the train step with explicit shardings and donated state; the eval step alongside."""
  abstract, state_sh = state_shardings(model, tx, mesh)
  batch_sh = sharding.batch_sharding(mesh)
  rep = sharding.replicated(mesh)
  step = jax.jit(
      functools.partial(train_step, model=model, tx=tx, grad_accum=config.train.grad_accum,
                        seed=config.seed),
      in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, rep), donate_argnums=(0,))
  evals = jax.jit(functools.partial(eval_step, model=model),
                  in_shardings=(state_sh.params, batch_sh), out_shardings=rep)
  return step, evals, abstract


class MetricsLog:
  """metrics.jsonl + TensorBoard scalars, written by process 0 only."""

  def __init__(self, workdir):
    self.active = jax.process_index() == 0
    if self.active:
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


def check_config(config, mesh):
  tc = config.train
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
  from drzjax import bank as bank_cli  # noqa: PLC0415 - builds the default bank on first use
  from drzjax import validate  # noqa: PLC0415

  tc = config.train
  workdir = os.path.abspath(os.path.expanduser(workdir))
  os.makedirs(workdir, exist_ok=True)
  lead = jax.process_index() == 0

  # ---- Mesh, model, optimizer ----
  mesh = sharding.make_mesh(config.mesh)
  check_config(config, mesh)
  model = model_lib.Diarizer(model_lib.ModelConfig.from_config(config))
  tx = make_optimizer(tc)
  step_fn, eval_fn, abstract = compile_steps(model, tx, mesh, config)
  logging.info("mesh %s over %d devices (%d processes); model %s: %.2fM parameters",
               dict(mesh.shape), jax.device_count(), jax.process_count(), config.variant,
               model_lib.count_params(abstract.params) / 1e6)

  # ---- Data: the speaker bank and this host's slice of the mixture stream ----
  bank_path = bank_cli.default_bank(config)
  spec = pipeline.ExampleSpec.from_config(config, bank_path, "train")
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
    logging.info("starting from scratch in %s", workdir)
  if lead:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))
  meta = {"config": json.loads(config.to_json()), "param_shapes": param_shapes}
  log = MetricsLog(workdir)
  validator = validate.Validator(config, bank_path, model, mesh) if tc.eval_every else None

  preempted = []
  signal.signal(signal.SIGTERM, lambda *_: preempted.append(True))

  def save(step, state, metrics):
    if not np.isfinite(float(metrics["loss"])):
      return  # never overwrite a good checkpoint with a diverged state
    seen = audio_secs + float(metrics["audio_secs"])
    ckpt_lib.save(mngr, step, state, data_iter, dict(meta, audio_secs=seen), force=True)

  # ---- The loop ----
  vocab_positions = model.cfg.seq_len * tc.batch_size
  t_last, step_last, last = time.time(), step, None
  try:
    while step < tc.steps:
      batch = sharding.global_batch(next(data_iter), mesh)
      with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
        state, metrics = step_fn(state, batch)
      step += 1
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
        scalars = {"loss": m["loss"], "lr": lr_schedule(tc)(step - 1), "grad_norm": m["grad_norm"],
                   "steps_per_s": sps, "tokens_per_s": sps * vocab_positions,
                   "audio_hours": (audio_secs + float(m["audio_secs"])) / 3600}
        log.write(step, scalars)
        if lead:
          logging.info("step %d/%d  loss %.4f  lr %.2e  gnorm %.2f | %.2f steps/s %.0f tok/s | "
                       "%.2f h audio | ETA %s", step, tc.steps, m["loss"], scalars["lr"],
                       m["grad_norm"], sps, scalars["tokens_per_s"], scalars["audio_hours"],
                       _eta((tc.steps - step) / max(sps, 1e-9)))
      if validator and step % tc.eval_every == 0:
        validator.run(step, state.params, eval_fn, log)
      if step % tc.checkpoint_every == 0 or step == tc.steps or preempted:
        save(step, state, jax.device_get(metrics))
      if preempted:
        logging.info("SIGTERM: saved a checkpoint at step %d, exiting", step)
        break
  finally:
    mngr.wait_until_finished()
    log.close()
  return state
