"""The device mesh, the one table mapping logical axis names to mesh axes, and multi-host start-up.

Parameters and activations are annotated with logical names in model.py; this table alone decides
how they land on the (data, fsdp, tensor) mesh. The batch is split over (data, fsdp); FSDP shards
parameters on their `embed` dimension; tensor parallelism splits heads, MLP and vocabulary.
"""
import os

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "fsdp", "tensor")

RULES = (
    ("batch", ("data", "fsdp")),
    ("length", None),
    ("act_embed", None),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv", None),
    ("vocab", "tensor"),
)


def mesh_shape(config_mesh, num_devices):
  """Resolve -1 (= the remaining devices) in (data, fsdp, tensor); errors say what is wrong."""
  shape = [int(config_mesh.data), int(config_mesh.fsdp), int(config_mesh.tensor)]
  if shape.count(-1) > 1:
    raise ValueError(f"mesh {dict(zip(MESH_AXES, shape))}: at most one axis may be -1")
  known = int(np.prod([s for s in shape if s != -1]))
  if -1 in shape:
    if num_devices % known:
      raise ValueError(f"mesh {dict(zip(MESH_AXES, shape))} does not divide {num_devices} devices")
    shape[shape.index(-1)] = num_devices // known
  if int(np.prod(shape)) != num_devices:
    raise ValueError(f"mesh {dict(zip(MESH_AXES, shape))} needs {int(np.prod(shape))} devices, "
                     f"there are {num_devices}")
  return tuple(shape)


def make_mesh(config_mesh, devices=None):
  devices = jax.devices() if devices is None else devices
  shape = mesh_shape(config_mesh, len(devices))
  # Auto axes: jit propagates shardings and logical constraints act as hints.
  return jax.make_mesh(shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * 3,
                       devices=devices)


def batch_sharding(mesh):
  return NamedSharding(mesh, P(("data", "fsdp")))


def replicated(mesh):
  return NamedSharding(mesh, P())


def global_batch(local_batch, mesh):
  """Assemble the global batch from this process's slice (the whole batch on one host)."""
  sh = batch_sharding(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sh, np.asarray(x)),
                      local_batch)


def maybe_initialize_distributed(coordinator="", num_processes=0, process_id=-1):
  """Join a multi-process run when flags or the environment (TPU pod, SLURM) say so.

  Explicit flags win; on a TPU pod or under SLURM with several tasks jax finds the coordinator
  itself. Returns True if jax.distributed was initialised.
  """
  if coordinator:
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
    return True
  if int(os.environ.get("SLURM_NTASKS", "1")) > 1 or os.environ.get("TPU_WORKER_HOSTNAMES",
                                                                     "").count(",") > 0:
    jax.distributed.initialize()
    return True
  return False
