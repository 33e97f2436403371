"""Validation during training: loss on a fixed held-out set of synthetic mixtures (val speakers)."""
import logging

import jax
import flax.linen as nn

from drzjax import sharding
from drzjax.data import pipeline


class Validator:
  def __init__(self, config, bank_path, model, mesh):
    # A different stream seed than training, and the val split: unseen speakers.
    spec = pipeline.ExampleSpec.from_config(config, bank_path, "val", seed=config.seed + 1)
    n = config.train.eval_size
    shards = mesh.shape["data"] * mesh.shape["fsdp"]
    n = max(shards, n - n % shards)
    self.batch = pipeline.fixed_examples(spec, n)
    self.model, self.mesh = model, mesh

  def run(self, step, params, eval_fn, log):
    batch = sharding.global_batch(self.batch, self.mesh) if jax.process_count() == 1 else None
    if batch is None:
      return  # each process holds the whole fixed set; per-host slicing is not worth it here
    with jax.set_mesh(self.mesh), nn.logical_axis_rules(sharding.RULES):
      loss = float(eval_fn(params, batch))
    log.write(step, {"val_loss": loss})
    logging.info("step %d  val_loss %.4f", step, loss)
