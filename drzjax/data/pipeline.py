"""The grain input pipeline: seeded mixtures -> padded batches, one slice of the global batch per host.

Examples carry the raw waveform, not mel features: the log-mel runs in jnp inside the jitted
step (on the accelerator), so the host only synthesises audio, and the bytes per example are
the same order (16000 float32/s vs 62.5 x 80 float32/s mel frames is 3.2x more, but it is
plain memory copy, not host FLOPs).

Global example k of the stream is mixture (seed, k), or, for a data.real_weight share of k
(`real.is_real`, a pure function of (seed, k)), a chunk of the real recordings of data.real_dir
(data/real.py). Host h of H takes examples k = h, h+H, ...
and batches them by B/H; the union over hosts of their j-th batches is exactly examples
[j*B, (j+1)*B). The grain iterator state is a position in this stream, checkpointed with the
model, so a resumed run sees what an uninterrupted one would.
"""
import dataclasses

import grain
import numpy as np

from drzjax import tokens
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import mixtures
from drzjax.data import real as real_lib

STREAM_LEN = 2 ** 40  # effectively endless; grain MapDatasets are lazy
# The stream seed of each use, config.seed + offset: training, validation (validate.py) and the
# held-out test set (scoring.py, evaluate) never share a mixture. data/preview shows each.
STREAM_SEED_OFFSET = {"train": 0, "val": 1, "test": 2}


def stream_seed(config, stream):
  """The seed of the mixture stream `stream` ("train", "val" or "test") of a config."""
  return config.seed + STREAM_SEED_OFFSET[stream]


@dataclasses.dataclass(frozen=True)
class ExampleSpec:
  bank_path: str
  split: str
  seed: int
  mix: mixtures.MixConfig
  vocab: tokens.Vocab
  max_label_len: int
  num_frames: int      # audio positions of the model: the frame targets' length
  frame_secs: float    # seconds between them
  bank_weights: tuple = ()  # one per bank of a comma-separated bank_path; () = equal
  real: real_lib.RealConfig = real_lib.RealConfig()  # real recordings mixed in (off by default)

  @classmethod
  def from_config(cls, config, bank_path, split="train", seed=None):
    m = config.model
    num_samples = tokens.num_samples(config.data.max_secs, config.data.sample_rate)
    return cls(bank_path, split, stream_seed(config, "train") if seed is None else seed,
               mixtures.MixConfig.from_config(config), tokens.Vocab.from_config(config),
               config.tokens.max_label_len,
               tokens.num_positions(num_samples, m.hop, tuple(m.strides)),
               tokens.frame_secs(config.data.sample_rate, m.hop, tuple(m.strides)),
               bank_weights(config),
               # Recordings have a train and a val split; the test set stays synthetic.
               real_lib.RealConfig.from_config(config) if split in ("train", "val")
               else real_lib.RealConfig())

  @property
  def num_samples(self):
    return tokens.num_samples(self.mix.max_secs, self.mix.sample_rate)


def bank_weights(config):
  """config.bank.weights ("1,0.5") as a tuple of floats; () when unset."""
  w = config.bank.weights.strip()
  try:
    return tuple(float(x) for x in w.split(",")) if w else ()
  except ValueError:
    raise ValueError(f"bank.weights={w!r}: expected comma-separated numbers, e.g. '1,0.5'") \
        from None


class Synthesizer:
  """index -> example dict. Picklable: grain worker processes open the bank themselves."""

  def __init__(self, spec):
    self.spec = spec
    self._bank = None
    self._real = None

  def __getstate__(self):
    return {"spec": self.spec, "_bank": None, "_real": None}

  def bank(self):
    if self._bank is None:
      self._bank = bank_lib.open_bank(self.spec.bank_path, self.spec.bank_weights)
      self._speakers = self._bank.speakers(self.spec.split)
    return self._bank

  def real(self):
    """The real recordings of this split (data/real.py), or None: off, or a val split without
    recordings (validation is then synthetic). Indexes the folder on first use."""
    if self._real is None and self.spec.real.weight > 0:
      spec = self.spec
      src = real_lib.Source(spec.real, spec.split, spec.mix, spec.vocab.speakers)
      self._real = src if src.recordings else False
    return self._real or None

  def mixture(self, index):
    if real_lib.is_real(self.spec.seed, index, self.spec.real.weight) and self.real():
      return self.real().chunk(self.spec.seed, index)
    bank = self.bank()
    return mixtures.make(bank, self._speakers, self.spec.seed, index, self.spec.mix)

  def __call__(self, index):
    return to_example(self.mixture(index), self.spec)


def to_example(mix, spec):
  audio = np.zeros(spec.num_samples, np.float32)
  audio[:len(mix.audio)] = mix.audio[:spec.num_samples]
  labels = tokens.encode(mix.segments, spec.vocab, spec.max_label_len)
  frames = tokens.frame_targets(mix.segments, spec.vocab, spec.num_frames, spec.frame_secs)
  return {"audio": audio, "labels": labels, "frames": frames.astype(np.uint8),
          "num_samples": np.int32(len(mix.audio))}


def dataset(spec, global_batch, host_index=0, host_count=1, workers=0, prefetch=4):
  """The training stream for this host: an IterDataset of dicts of (B/H, ...) arrays."""
  if global_batch % host_count:
    raise ValueError(f"global batch {global_batch} does not split over {host_count} hosts")
  ds = grain.MapDataset.range(STREAM_LEN)[host_index::host_count]
  ds = ds.map(Synthesizer(spec)).batch(global_batch // host_count, drop_remainder=True)
  # grain's default read options (16 threads, 500 batches ahead) would fill memory with
  # gigabytes of batches the step has not asked for and take CPU from it: one thread (per
  # worker) and `prefetch` batches ahead keep the step fed.
  ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=prefetch))
  if workers > 0:
    ds = ds.mp_prefetch(grain.multiprocessing.MultiprocessingOptions(
        num_workers=workers, per_worker_buffer_size=prefetch))
  return ds


def stack(examples):
  """[example dict] -> one batch dict."""
  return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


def fixed_set(spec, n, start=0):
  """A small fixed held-out set (validation): (its n mixtures, their examples as one batch)."""
  synth = Synthesizer(spec)
  mixes = [synth.mixture(start + i) for i in range(n)]
  return mixes, stack([to_example(m, spec) for m in mixes])


def fixed_examples(spec, n, start=0):
  """fixed_set's batch alone."""
  return fixed_set(spec, n, start)[1]
