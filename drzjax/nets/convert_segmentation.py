"""pyannote segmentation-3.0 checkpoint (pytorch_model.bin) -> Flax parameters of
drzjax/nets/segmentation.py, as {'/'-joined path: float32 array}. Needs torch (imported here only).

The sinc kernels are computed from the learned low/band frequencies exactly as asteroid-filterbanks'
ParamSincFB.filters does (same float32 torch ops), and stored as a fixed conv kernel.
"""
import numpy as np

# What segmentation.py is built for; a checkpoint with other hyper-parameters is refused.
EXPECTED_HPARAMS = {"sincnet": {"stride": 10}, "lstm": {"hidden_size": 128, "num_layers": 4,
                                                        "bidirectional": True, "monolithic": True},
                    "linear": {"hidden_size": 128, "num_layers": 2}, "sample_rate": 16000}
SINC_MIN_LOW_HZ, SINC_MIN_BAND_HZ = 50.0, 50.0  # SincNet's ParamSincFB(min_low_hz, min_band_hz)


def _check_hparams(hp, path):
  for key, want in EXPECTED_HPARAMS.items():
    got = hp.get(key)
    if isinstance(want, dict):
      got = {k: (got or {}).get(k) for k in want}
    if got != want:
      raise ValueError(f"{path}: hyper-parameter {key}={got}, expected {want}")


def sinc_kernels(low_hz_, band_hz_, window_, n_, sample_rate=16000):
  """asteroid ParamSincFB.filters(): (80, 1, 251) torch kernels (40 cos then 40 sin filters)."""
  import torch  # noqa: PLC0415

  low = SINC_MIN_LOW_HZ + torch.abs(low_hz_)
  high = torch.clamp(low + SINC_MIN_BAND_HZ + torch.abs(band_hz_), SINC_MIN_LOW_HZ,
                     sample_rate / 2)
  band = (high - low)[:, 0]
  ft_low, ft_high = torch.matmul(low, n_), torch.matmul(high, n_)
  out = []
  for kind in ("cos", "sin"):
    if kind == "cos":
      left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (n_ / 2)) * window_
      centre = 2 * band.view(-1, 1)
      right = torch.flip(left, dims=[1])
    else:
      left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (n_ / 2)) * window_
      centre = torch.zeros_like(band.view(-1, 1))
      right = -torch.flip(left, dims=[1])
    bp = torch.cat([left, centre, right], dim=1) / (2 * band[:, None])
    out.append(bp.view(low.shape[0], 1, -1))
  return torch.cat(out, dim=0)


class _Stub:
  """Stands in for pickled pyannote objects (task specifications): their fields stay readable."""

  def __init__(self, *args, **kwargs):
    self.args, self.kwargs = args, kwargs

  def __setstate__(self, state):
    if isinstance(state, dict):
      self.__dict__.update(state)


class _StubPickle:
  """A pickle module for torch.load that does not import pyannote: the checkpoint pickles a few
  pyannote objects beside the tensors, and torch alone is enough to convert."""
  import pickle as _pickle

  class Unpickler(_pickle.Unpickler):
    def find_class(self, module, name):
      if module.split(".")[0] in ("pyannote", "pytorch_lightning", "lightning_fabric"):
        return type(name, (_Stub,), {})
      return super().find_class(module, name)

  load = _pickle.load


def convert(path):
  import torch  # noqa: PLC0415

  ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_StubPickle)
  if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
    raise ValueError(f"{path}: not a pyannote checkpoint (no state_dict)")
  _check_hparams(ckpt.get("hyper_parameters", {}), path)
  spec = ckpt.get("pyannote.audio", {}).get("specifications")
  if spec is not None and (len(getattr(spec, "classes", ())) != 3
                           or getattr(spec, "powerset_max_classes", None) != 2):
    raise ValueError(f"{path}: expected 3 speakers, at most 2 at once (powerset of 7 classes)")
  sd = {k: v.detach().float() for k, v in ckpt["state_dict"].items()}
  used = set()

  def take(key):
    used.add(key)
    return sd[key]

  def np32(t):
    return np.ascontiguousarray(t.numpy().astype(np.float32))

  flat = {}

  def norm(dst, src):
    flat[f"{dst}/scale"] = np32(take(f"{src}.weight"))
    flat[f"{dst}/bias"] = np32(take(f"{src}.bias"))

  norm("wav_norm", "sincnet.wav_norm1d")
  fb = "sincnet.conv1d.0.filterbank"
  kernels = sinc_kernels(take(f"{fb}.low_hz_"), take(f"{fb}.band_hz_"), take(f"{fb}.window_"),
                         take(f"{fb}.n_"))
  flat["sinc/kernel"] = np32(kernels.permute(2, 1, 0))  # (out, in, width) -> (width, in, out)
  for i in range(3):
    norm(f"norm_{i}", f"sincnet.norm1d.{i}")
  for i in (1, 2):
    flat[f"conv_{i}/kernel"] = np32(take(f"sincnet.conv1d.{i}.weight").permute(2, 1, 0))
    flat[f"conv_{i}/bias"] = np32(take(f"sincnet.conv1d.{i}.bias"))
  for layer in range(4):
    w_ih, w_hh, bias = [], [], []
    for suffix in ("", "_reverse"):
      s = f"l{layer}{suffix}"
      w_ih.append(take(f"lstm.weight_ih_{s}").T)  # (4H, D) -> (D, 4H), gates i, f, g, o kept
      w_hh.append(take(f"lstm.weight_hh_{s}").T)
      bias.append(take(f"lstm.bias_ih_{s}") + take(f"lstm.bias_hh_{s}"))
    flat[f"lstm_{layer}/w_ih"] = np32(torch.stack(w_ih))
    flat[f"lstm_{layer}/w_hh"] = np32(torch.stack(w_hh))
    flat[f"lstm_{layer}/bias"] = np32(torch.stack(bias))
  for dst, src in (("linear_0", "linear.0"), ("linear_1", "linear.1"),
                   ("classifier", "classifier")):
    flat[f"{dst}/kernel"] = np32(take(f"{src}.weight").T)
    flat[f"{dst}/bias"] = np32(take(f"{src}.bias"))
  unused = sorted(set(sd) - used)
  assert not unused, f"{path}: state-dict tensors not converted: {unused}"
  return flat
