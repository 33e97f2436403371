"""Validation during training, on a fixed held-out set of synthetic mixtures (val speakers):
the losses, the listening gap (token loss under another mixture's audio minus the true one),
the DER of both decoders (greedy tokens, frame head), and a reference-vs-predicted timeline
picture for TensorBoard."""
import logging

import flax.linen as nn
import jax

from drzjax import sharding
from drzjax.data import pipeline


class Validator:
  def __init__(self, config, bank_path, model, mesh):
    # A different stream seed than training, and the val split: unseen speakers.
    spec = pipeline.ExampleSpec.from_config(config, bank_path, "val",
                                            seed=pipeline.stream_seed(config, "val"))
    shards = mesh.shape["data"] * mesh.shape["fsdp"]
    n = max(shards, config.train.eval_size - config.train.eval_size % shards)
    self.mixtures, self.batch = pipeline.fixed_set(spec, n)
    self.model, self.mesh = model, mesh

  def run(self, step, params, eval_fn, log, train_minutes=0.0):
    if jax.process_count() > 1:
      return  # each process holds the whole fixed set; per-host slicing is not worth it here
    from drzjax import plot, scoring  # noqa: PLC0415
    with jax.set_mesh(self.mesh), nn.logical_axis_rules(sharding.RULES):
      losses = jax.device_get(eval_fn(params, sharding.global_batch(self.batch, self.mesh)))
    result, hyps = scoring.score_synthetic(params, self.model, self.mixtures,
                                           batch=len(self.mixtures))
    frames, _ = scoring.score_synthetic(params, self.model, self.mixtures,
                                        batch=len(self.mixtures), decoder="frames")
    der = result["overall"]["der"]
    gap = float(losses["token_loss_other_audio"] - losses["token_loss"])
    loss = float(losses["loss"])
    log.write(step, {"val_loss": loss, "val_token_loss": losses["token_loss"],
                     "val_frame_loss": losses["frame_loss"], "val_listening_gap": gap,
                     "val_der": der, "val_der_frames": frames["overall"]["der"],
                     "train_minutes": train_minutes})
    m = self.mixtures[0]
    fig = plot.timeline({"ref": [(s, e, str(w)) for s, e, w in m.segments],
                         "pred": hyps["mix0000"]}, len(m.audio) / self.model.cfg.sample_rate,
                        wave=m.audio, title=f"step {step}  DER {100 * der:.1f}%")
    log.image(step, "val/timeline", plot.to_array(fig))
    logging.info("step %d  val_loss %.4f  listening gap %.3f  val_der %.1f%% (tokens) %.1f%% "
                 "(frames)", step, loss, gap, 100 * der, 100 * frames["overall"]["der"])
