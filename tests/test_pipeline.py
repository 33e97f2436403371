"""The grain pipeline: batch layout, resumable iterator state, per-host slices, worker processes."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from configs import base
from drzjax.data import pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_spec(bank, split="train", seed=0, **data):
  config = base.get_config("tiny")
  for k, v in data.items():
    setattr(config.data, k, v)
  return pipeline.ExampleSpec.from_config(config, bank, split, seed), config


def take(it, n):
  return [next(it) for _ in range(n)]


def same_batches(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for k in x:
      assert x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes(), k


def rows(batch):
  """The examples of a batch as hashable contents."""
  return [tuple(batch[k][i].tobytes() for k in sorted(batch)) for i in range(len(batch["audio"]))]


def test_batch_shapes_and_dtypes(small_bank):
  spec, config = tiny_spec(small_bank)
  batch = next(iter(pipeline.dataset(spec, 4)))
  n = int(config.data.max_secs * config.data.sample_rate)
  assert spec.num_samples == n
  assert batch["audio"].shape == (4, n) and batch["audio"].dtype == np.float32
  assert batch["labels"].shape == (4, config.tokens.max_label_len)
  assert batch["labels"].dtype == np.int32
  assert batch["num_samples"].shape == (4,) and batch["num_samples"].dtype == np.int32
  for audio, length in zip(batch["audio"], batch["num_samples"]):
    assert config.data.min_secs * 16000 <= length <= n
    assert not np.any(audio[length:])  # padding is silence
  # Example k of the stream is mixture (seed, k), labels its encoded segments.
  synth = pipeline.Synthesizer(spec)
  for k in range(4):
    ex = synth(k)
    assert all(ex[key].tobytes() == batch[key][k].tobytes() for key in ex)


def test_state_round_trip(small_bank):
  spec, _ = tiny_spec(small_bank)
  it = iter(pipeline.dataset(spec, 2))
  take(it, 2)
  state = it.get_state()
  want = take(it, 2)
  it2 = iter(pipeline.dataset(spec, 2))
  it2.set_state(state)
  same_batches(take(it2, 2), want)


def test_state_through_orbax_checkpoint(small_bank, tmp_path):
  import jax.numpy as jnp

  from drzjax import checkpoint

  spec, _ = tiny_spec(small_bank)
  it = iter(pipeline.dataset(spec, 2))
  take(it, 3)
  mngr = checkpoint.manager(tmp_path, keep=2)
  state = {"w": jnp.arange(4.0)}
  checkpoint.save(mngr, 3, state, it, {"step": 3})
  mngr.wait_until_finished()
  want = take(it, 2)
  import jax
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
                          state)
  fresh = iter(pipeline.dataset(spec, 2))
  step, restored, meta = checkpoint.restore_latest(checkpoint.manager(tmp_path), abstract, fresh)
  assert step == 3 and meta["step"] == 3
  np.testing.assert_array_equal(restored["w"], state["w"])
  same_batches(take(fresh, 2), want)


def test_prefetch_is_bounded(small_bank, monkeypatch):
  """The in-process stream runs only `prefetch` batches ahead (grain's default is 500)."""
  calls = []
  call = pipeline.Synthesizer.__call__
  monkeypatch.setattr(pipeline.Synthesizer, "__call__",
                      lambda self, index: (calls.append(index), call(self, index))[1])
  spec, _ = tiny_spec(small_bank)
  it = iter(pipeline.dataset(spec, 2, prefetch=2))
  next(it)
  time.sleep(1.5)  # ample time to run far ahead if it could
  assert 2 <= len(calls) <= 2 * (1 + 2 + 1), len(calls)


def test_host_slices_partition_the_global_batch(small_bank):
  spec, _ = tiny_spec(small_bank)
  single = take(iter(pipeline.dataset(spec, 4)), 2)
  hosts = [take(iter(pipeline.dataset(spec, 4, host_index=h, host_count=2)), 2) for h in (0, 1)]
  for j in range(2):
    assert hosts[0][j]["audio"].shape[0] == 2
    union = rows(hosts[0][j]) + rows(hosts[1][j])
    assert sorted(union) == sorted(rows(single[j]))
    assert len(set(union)) == 4
  with pytest.raises(ValueError, match="split"):
    pipeline.dataset(spec, 5, host_count=2)


def test_fixed_examples(small_bank):
  spec, _ = tiny_spec(small_bank, "val", seed=1)
  a = pipeline.fixed_examples(spec, 3)
  b = pipeline.fixed_examples(spec, 3)
  assert a["audio"].shape == (3, spec.num_samples)
  same_batches([a], [b])
  val_speakers = set(pipeline.Synthesizer(spec).mixture(0).speakers)
  train = pipeline.Synthesizer(tiny_spec(small_bank)[0])
  assert not val_speakers & set(train.mixture(0).speakers + train.mixture(1).speakers)


WORKERS_SCRIPT = textwrap.dedent("""
  import gc
  import sys

  from absl import flags

  from configs import base
  from drzjax.data import pipeline


  def batches(it, n):
    return [{k: v.copy() for k, v in next(it).items()} for _ in range(n)]


  def same(a, b):
    return all(x[k].tobytes() == y[k].tobytes() for x, y in zip(a, b) for k in x)


  if __name__ == "__main__":
    flags.FLAGS(["x"], known_only=True)  # grain's multiprocessing reads absl flags
    config = base.get_config("tiny")
    spec = pipeline.ExampleSpec.from_config(config, sys.argv[1], "train", 0)
    want = batches(iter(pipeline.dataset(spec, 2, workers=0)), 6)
    it = iter(pipeline.dataset(spec, 2, workers=2, prefetch=2))
    got = batches(it, 3)
    state = it.get_state()
    got += batches(it, 3)
    assert same(got, want), "workers=2 differs from workers=0"
    it2 = iter(pipeline.dataset(spec, 2, workers=2, prefetch=2))
    it2.set_state(state)
    assert same(batches(it2, 3), want[3:]), "restored worker iterator differs"
    del it, it2
    gc.collect()  # stop the workers now, not in interpreter teardown (noisy tracebacks)
    print("OK")
""")


@pytest.mark.slow  # spawns 4 worker processes: ~10 s idle, a minute on a loaded machine
def test_workers_give_the_same_stream(small_bank, tmp_path):
  """grain worker processes (spawned, so a real script) yield exactly the in-process stream."""
  script = tmp_path / "workers.py"
  script.write_text(WORKERS_SCRIPT)
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  out = subprocess.run([sys.executable, str(script), small_bank], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stderr[-3000:]
