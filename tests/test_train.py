"""Training: overfitting, sharded == unsharded, real subprocess runs of `python -m drzjax.main`.

The subprocess tests use the `small_bank` fixture (a real bank on disk) and the tiny config.
"""
import json
import os
import re
import shutil
import signal
import time

import flax.linen as nn
import jax
import numpy as np
import pytest

from configs.base import get_config
from conftest import run_main
from drzjax import checkpoint as ckpt_lib
from drzjax import model as model_lib
from drzjax import sharding
from drzjax import train
from drzjax.data import pipeline

def tiny_config(bank, **train_overrides):
  c = get_config("tiny")
  c.bank.path = bank
  for k, v in train_overrides.items():
    setattr(c.train, k, v)
  return c


def read_tb_events(path):
  """Events of a TensorBoard file (TFRecord framing: u64 length, u32 crc, data, u32 crc)."""
  import struct  # noqa: PLC0415
  from tensorboardX.proto import event_pb2  # noqa: PLC0415
  with open(path, "rb") as f:
    while header := f.read(12):
      (n,) = struct.unpack("<Q", header[:8])
      yield event_pb2.Event.FromString(f.read(n))
      f.read(4)


def read_tb_scalars(path):
  out = {}
  for event in read_tb_events(path):
    for v in event.summary.value:
      if v.HasField("simple_value"):
        out.setdefault(v.tag, []).append((event.step, v.simple_value))
  return out


def losses(workdir):
  """{step: loss} from metrics.jsonl; a step logged twice (before a kill, after resume) keeps
  the later line, which is the one the resumed run wrote."""
  out = {}
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    for line in f:
      m = json.loads(line)
      if "loss" in m:
        out[m["step"]] = m["loss"]
  return out


def run_steps(config, mesh, batch, n, history=None):
  """n steps from a fresh state -> (losses, final parameters on the host, final state); the
  host parameters before each step and after the last are appended to `history` if given."""
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
  tx = train.make_optimizer(config.train)
  step_fn, _, _ = train.compile_steps(model, tx, mesh, config)
  state = train.create_state(model, tx, mesh, config.seed)
  out = []
  for _ in range(n):
    if history is not None:
      history.append(jax.tree.map(np.array, state.params))  # a copy: the step donates state
    with jax.set_mesh(mesh), nn.logical_axis_rules(sharding.RULES):
      state, m = step_fn(state, sharding.global_batch(batch, mesh))
    out.append(float(m["loss"]))
  params = jax.device_get(state.params)
  if history is not None:
    history.append(params)
  return out, params, state


@pytest.fixture(scope="module")
def fixed_batch(small_bank):
  c = tiny_config(small_bank)
  spec = pipeline.ExampleSpec.from_config(c, small_bank, "train")
  return pipeline.fixed_examples(spec, 8)


@pytest.fixture(scope="module")
def one_device_run(small_bank, fixed_batch):
  """5 steps of the tiny config on one device: (losses, host parameters before step 1 and
  after each step); the reference of the sharded and the gradient-accumulation tests (each
  compiled step and init costs seconds on CPU)."""
  c = tiny_config(small_bank)
  history = []
  got, _, _ = run_steps(c, sharding.make_mesh(c.mesh, jax.devices()[:1]), fixed_batch, 5,
                        history)
  return got, history


def test_tiny_model_overfits_one_batch(small_bank, fixed_batch):
  # Chance level is ln(V) = ln(128) = 4.85 nats per label token. Memorising two fixed label
  # sequences needs no generalisation, so the loss must go far below what any audio-blind
  # guess gets; the unconditional entropy of our labels is about 3 nats (measured at step 0-20
  # of normal training), and 0.5 is well below it.
  c = tiny_config(small_bank, lr=3e-3, warmup_steps=10, steps=150)
  batch = {k: v[:2] for k, v in fixed_batch.items()}
  mesh = sharding.make_mesh(c.mesh, jax.devices()[:1])
  out, _, _ = run_steps(c, mesh, batch, 150)
  assert out[0] > 4.0, out[0]
  assert min(out[-10:]) < 0.5, out[-10:]


def test_sharded_equals_unsharded(small_bank, fixed_batch, one_device_run):
  c = tiny_config(small_bank)
  heads, d = c.model.num_heads, c.model.d_model
  ref_losses, history = one_device_run
  init, ref_params = history[0], history[-1]
  assert len(ref_losses) == 5 and ref_losses[-1] < ref_losses[0]

  def comparable(params):
    params = jax.tree.map(np.array, params)
    for name, block in params.items():
      if name.startswith("block"):
        block["qkv"]["bias"].reshape(heads, 3, d // heads)[:, 1] = 0  # see below
    return params
  # The key part of the qkv bias has an exactly-zero gradient (softmax is shift invariant), and
  # Adam turns its rounding noise into +-lr steps that differ between reduction orders: it is
  # the one parameter left out. Every other parameter, biases included, is compared.
  moved = jax.tree.map(lambda a, b: float(np.abs(a - b).max()), comparable(ref_params),
                       comparable(init))
  assert min(jax.tree.leaves(moved)) > 1e-4, moved  # the 5 updates moved every parameter
  kernel = ("block0", "mlp_in", "kernel")  # logical axes (embed, mlp) -> mesh (fsdp, tensor)
  for shape in [(8, 1, 1), (2, 2, 2), (1, 1, 8)]:
    c.mesh.data, c.mesh.fsdp, c.mesh.tensor = shape
    mesh = sharding.make_mesh(c.mesh)
    assert dict(mesh.shape) == dict(zip(sharding.MESH_AXES, shape))
    got_losses, got_params, state = run_steps(c, mesh, fixed_batch, 5)
    # The layout is what the rules say: the MLP kernel split over fsdp x tensor, the batch
    # over data x fsdp.
    arr = state.params[kernel[0]][kernel[1]][kernel[2]]
    full = np.array(arr.shape)
    assert tuple(arr.sharding.spec) == ("fsdp", "tensor"), arr.sharding.spec
    np.testing.assert_array_equal(arr.addressable_shards[0].data.shape,
                                  full // [shape[1], shape[2]], err_msg=str(shape))
    batch = sharding.global_batch(fixed_batch, mesh)["audio"]
    assert batch.addressable_shards[0].data.shape[0] == len(fixed_batch["audio"]) // (
        shape[0] * shape[1])
    # Float32 with a different reduction order per mesh: losses agree to ~1e-6 relative;
    # parameters after 5 Adam steps (lr <= 1e-3) to 1e-5 absolute.
    np.testing.assert_allclose(got_losses, ref_losses, rtol=1e-5, err_msg=str(shape))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5, err_msg=str(shape)),
                 comparable(got_params), comparable(ref_params))


@pytest.fixture(scope="module")
def reference_run(tiny_run):
  return tiny_run


def test_main_writes_metrics_tensorboard_checkpoints(reference_run):
  lines = [json.loads(l) for l in open(os.path.join(reference_run, "metrics.jsonl"))]
  assert [m["step"] for m in lines] == list(range(1, 13))
  for key in ("step", "loss", "lr", "grad_norm", "steps_per_s", "positions_per_s", "audio_hours"):
    assert all(key in m for m in lines), key
  assert all(np.isfinite(m["loss"]) for m in lines)
  assert lines[-1]["audio_hours"] > lines[0]["audio_hours"] > 0
  events = [f for f in os.listdir(reference_run) if f.startswith("events.out.tfevents")]
  assert events
  scalars = read_tb_scalars(os.path.join(reference_run, events[0]))
  assert [s for s, _ in scalars["loss"]] == list(range(1, 13))
  np.testing.assert_allclose([v for _, v in scalars["loss"]], [m["loss"] for m in lines],
                             rtol=1e-6)
  assert {"lr", "grad_norm", "steps_per_s", "positions_per_s", "audio_hours"} <= set(scalars)
  steps = sorted(int(d) for d in os.listdir(os.path.join(reference_run, "checkpoints"))
                 if d.isdigit())
  assert steps == [4, 8, 12]


def test_rerun_resumes_and_continues(reference_run, small_bank, tmp_path):
  wd = str(tmp_path / "run")
  shutil.copytree(reference_run, wd)
  r = run_main(wd, small_bank, "--config.train.steps=14", "--config.train.log_every=1",
               "--config.train.checkpoint_every=4")
  assert r.returncode == 0, r.stderr
  assert "resuming from step 12" in r.stderr
  assert max(losses(wd)) == 14
  # Compiling is announced and timed; the ETA counts steady steps only, so the first step after
  # the resume (compilation included) has none.
  assert "compiling the train step" in r.stderr and "first step done in" in r.stderr, r.stderr
  assert re.search(r"step 13/14 .*ETA \?$", r.stderr, re.M), r.stderr
  assert re.search(r"step 14/14 .*ETA 0m00s$", r.stderr, re.M), r.stderr


@pytest.mark.slow
def test_kill9_resume_matches_uninterrupted(reference_run, small_bank, tmp_path):
  wd = str(tmp_path / "run")
  args = ("--config.train.steps=12", "--config.train.log_every=1",
          "--config.train.checkpoint_every=4")
  p = run_main(wd, small_bank, *args, wait=False)
  ckdir = os.path.join(wd, "checkpoints")
  deadline = time.time() + 240
  # Kill once checkpoint 4 is complete and a later step has been logged: mid-way, no goodbye.
  # Poll often: the checkpoint directory appears when its write is finalised, and the 8 steps
  # left can finish within a slower poll (with step >= 6 and 0.2 s it failed in 2 of 4 slow runs).
  while time.time() < deadline and p.poll() is None:
    done = os.path.isdir(os.path.join(ckdir, "4")) and os.path.exists(
        os.path.join(wd, "metrics.jsonl")) and max(losses(wd) or {0: 0}) >= 5
    if done:
      break
    time.sleep(0.02)
  assert p.poll() is None, "run finished before it could be killed"
  p.send_signal(signal.SIGKILL)
  p.wait()
  killed_at = max(losses(wd))
  assert killed_at < 12
  r = run_main(wd, small_bank, *args)
  assert r.returncode == 0, r.stderr
  assert "resuming from step" in r.stderr
  resumed_from = int(r.stderr.split("resuming from step ")[1].split()[0])
  assert resumed_from in (4, 8)
  ref, got = losses(reference_run), losses(wd)
  # The replayed steps were logged twice; the resumed run dropped the first copies.
  with open(os.path.join(wd, "metrics.jsonl")) as f:
    logged = [m["step"] for m in map(json.loads, f) if "loss" in m]
  assert sorted(logged) == list(range(1, 13)), logged
  after = [s for s in ref if s > resumed_from]
  assert after
  np.testing.assert_allclose([got[s] for s in after], [ref[s] for s in after], rtol=1e-5)


def test_truncated_newest_checkpoint_falls_back(reference_run, small_bank, tmp_path, caplog):
  wd = str(tmp_path / "run")
  shutil.copytree(reference_run, wd)
  newest = os.path.join(wd, "checkpoints", "12", "state")
  victims = [os.path.join(d, f) for d, _, fs in os.walk(newest) for f in fs
             if os.path.getsize(os.path.join(d, f)) > 64]
  assert victims
  for v in victims:  # a half-written checkpoint: every data file cut short
    with open(v, "r+b") as f:
      f.truncate(os.path.getsize(v) // 3)
  c = tiny_config(small_bank)
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(c))
  tx = train.make_optimizer(c.train)
  mesh = sharding.make_mesh(c.mesh, jax.devices()[:1])
  abstract, _ = train.state_shardings(model, tx, mesh)
  mngr = ckpt_lib.manager(wd, create=False)
  step, state, _ = ckpt_lib.restore_latest(mngr, abstract, None,
                                           ckpt_lib.shapes_of(abstract.params))
  assert step == 8
  assert int(state.step) == 8
  assert "checkpoint" in caplog.text and "12" in caplog.text
  # Moved aside, kept for inspection: a resumed run can save step 12 again and go on.
  assert os.path.isdir(os.path.join(wd, "checkpoints", "12.corrupt"))
  assert not os.path.exists(os.path.join(wd, "checkpoints", "12"))
  # 14 steps, as test_rerun_resumes_and_continues: the same compiled step (cache hit).
  r = run_main(wd, small_bank, "--config.train.steps=14", "--config.train.checkpoint_every=4")
  assert r.returncode == 0, r.stdout + r.stderr
  assert "resuming from step 8" in r.stderr
  assert "Traceback" not in r.stderr and "Event loop is closed" not in r.stderr, r.stderr
  assert {"12", "14"} <= set(os.listdir(os.path.join(wd, "checkpoints")))


@pytest.mark.parametrize("sig,code,says", [
    (signal.SIGTERM, 0, "SIGTERM"),
    pytest.param(signal.SIGINT, 130, "interrupted at step", marks=pytest.mark.slow)])
def test_signal_saves_then_exits(small_bank, tmp_path, sig, code, says):
  """Preemption (SIGTERM, exit 0) and Ctrl-C (SIGINT, exit 130, one line, no traceback) both
  save a checkpoint, and the checkpoint restores."""
  wd = str(tmp_path / "run")
  p = run_main(wd, small_bank, "--config.train.steps=1000", "--config.train.log_every=1",
               "--config.train.checkpoint_every=1000", wait=False)
  deadline = time.time() + 240
  while time.time() < deadline and p.poll() is None:
    if os.path.exists(os.path.join(wd, "metrics.jsonl")) and losses(wd) and max(losses(wd)) >= 3:
      break
    time.sleep(0.2)
  p.send_signal(sig)
  out, _ = p.communicate(timeout=120)
  assert p.returncode == code, out
  steps = [int(d) for d in os.listdir(os.path.join(wd, "checkpoints")) if d.isdigit()]
  assert steps and 3 <= max(steps) < 1000, steps
  assert says in out and "Traceback" not in out, out
  r = run_main(wd, small_bank, f"--config.train.steps={max(steps) + 1}")
  assert r.returncode == 0 and f"resuming from step {max(steps)}" in r.stderr, r.stderr


def _assert_clean_failure(r, *needles):
  assert r.returncode != 0
  assert "Traceback" not in r.stderr, r.stderr
  for n in needles:
    assert n in r.stderr, r.stderr


def test_unknown_config_key_is_a_clear_error(small_bank, tmp_path):
  r = run_main(str(tmp_path / "run"), small_bank, "--config.train.stepz=3")
  _assert_clean_failure(r, "stepz")


@pytest.mark.parametrize("override,needle", [
    ("--config.train.log_every=0", "log_every=0"), ("--config.train.steps=0", "steps=0"),
    ("--config.bank.weights=1,2", "2 entries for 1 bank"),
    ("--config.channel.reverb_prob=2", "channel.reverb_prob=2.0 must be a probability")])
def test_bad_train_settings_are_clear_errors(small_bank, tmp_path, override, needle):
  r = run_main(str(tmp_path / "run"), small_bank, override)
  _assert_clean_failure(r, needle)


def test_workdir_that_is_a_file(small_bank, tmp_path):
  f = tmp_path / "afile"
  f.write_text("x")
  r = run_main(str(f), small_bank)
  _assert_clean_failure(r, "not a directory")


def test_checkpoint_from_other_model_size(reference_run, small_bank, tmp_path):
  wd = str(tmp_path / "run")
  shutil.copytree(reference_run, wd)
  r = run_main(wd, small_bank, "--config.model.d_model=32", "--config.train.steps=14")
  _assert_clean_failure(r, "different model size", "block0/mlp_in/kernel", "[64, 256]")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(small_bank, tmp_path):
  wd = str(tmp_path / "run")
  # An absurd learning rate blows the parameters up after warmup starts.
  r = run_main(wd, small_bank, "--config.train.lr=1e30", "--config.train.warmup_steps=4",
               "--config.train.steps=50", "--config.train.checkpoint_every=1",
               "--config.train.log_every=1")
  _assert_clean_failure(r, "loss is nan", "last good checkpoint")
  steps = sorted(int(d) for d in os.listdir(os.path.join(wd, "checkpoints")) if d.isdigit())
  assert steps
  c = tiny_config(small_bank)
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(c))
  tx = train.make_optimizer(c.train)
  abstract, _ = train.state_shardings(model, tx, sharding.make_mesh(c.mesh, jax.devices()[:1]))
  _, state, _ = ckpt_lib.restore_latest(ckpt_lib.manager(wd, create=False), abstract)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(jax.device_get(state.params)))


def _two_processes(wd, bank, steps):
  """`steps` steps by two local processes joined by jax.distributed (2 CPU devices each),
  logging every step, a checkpoint at the end; -> their outputs (both exited 0)."""
  import socket  # noqa: PLC0415
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  procs = [run_main(wd, bank, f"--config.train.steps={steps}", "--config.train.log_every=1",
                    f"--config.train.checkpoint_every={steps}",
                    f"--coordinator_address=localhost:{port}", "--num_processes=2",
                    f"--process_id={i}", devices=2, wait=False)
           for i in range(2)]
  outs = [p.communicate(timeout=300)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out
  return outs


@pytest.mark.slow
def test_two_processes_agree_with_one(reference_run, small_bank, tmp_path):
  """Two local processes train like one, and both restore their shards of the checkpoint."""
  wd = str(tmp_path / "run")
  outs = _two_processes(wd, small_bank, 3)
  assert "over 4 devices (2 processes)" in outs[0]
  ref, got = losses(reference_run), losses(wd)
  assert sorted(got) == [1, 2, 3]
  # Same global batches (each host makes its half), mesh of 4 vs 1 device: float32 order only.
  np.testing.assert_allclose([got[s] for s in (1, 2, 3)], [ref[s] for s in (1, 2, 3)], rtol=1e-5)
  assert os.path.isdir(os.path.join(wd, "checkpoints", "3"))
  # Both processes restore their shards of checkpoint 3 and go on as the one-process run did
  # (steps 4-5 are still in the warmup, so the shorter schedule does not change the lr).
  for out in _two_processes(wd, small_bank, 5):
    assert "resuming from step 3" in out, out
  got = losses(wd)
  assert sorted(got) == [1, 2, 3, 4, 5]
  np.testing.assert_allclose([got[s] for s in (4, 5)], [ref[s] for s in (4, 5)], rtol=1e-5)


@pytest.mark.slow
def test_dropout_after_resume_matches_uninterrupted(reference_run, small_bank, tmp_path):
  """Dropout masks come from (seed, step), not from state lost at a restart: replaying steps
  5-8 from checkpoint 4 gives the losses the uninterrupted run logged."""
  wd, again = str(tmp_path / "run"), str(tmp_path / "again")
  args = ("--config.train.steps=8", "--config.train.log_every=1",
          "--config.train.checkpoint_every=4", "--config.model.dropout=0.1")
  r = run_main(wd, small_bank, *args)
  assert r.returncode == 0, r.stderr
  first = losses(wd)
  assert first[1] != pytest.approx(losses(reference_run)[1], rel=1e-4)  # dropout is active
  shutil.copytree(wd, again)
  shutil.rmtree(os.path.join(again, "checkpoints", "8"))
  r = run_main(again, small_bank, *args)
  assert r.returncode == 0, r.stderr
  assert "resuming from step 4" in r.stderr
  got = losses(again)
  np.testing.assert_allclose([got[s] for s in range(5, 9)], [first[s] for s in range(5, 9)],
                             rtol=1e-5)


def test_validation_der_and_timeline_image(small_bank, tmp_path):
  wd = str(tmp_path / "run")
  r = run_main(wd, small_bank, "--config.train.steps=2", "--config.train.log_every=1",
               "--config.train.eval_every=2", "--config.train.eval_size=2")
  assert r.returncode == 0, r.stderr
  lines = [json.loads(l) for l in open(os.path.join(wd, "metrics.jsonl"))]
  val = [m for m in lines if "val_der" in m]
  assert len(val) == 1 and val[0]["step"] == 2
  assert 0.0 <= val[0]["val_der"] and np.isfinite(val[0]["val_loss"])
  events = [f for f in os.listdir(wd) if f.startswith("events.out.tfevents")]
  images = [v.image for e in read_tb_events(os.path.join(wd, events[0]))
            for v in e.summary.value if v.tag == "val/timeline"]
  assert len(images) == 1 and images[0].encoded_image_string[:4] == b"\x89PNG"
  assert images[0].width > 100 and images[0].height > 50


@pytest.mark.parametrize("config,needle", [
    ("configs/nope.py", "no such config file 'configs/nope.py'"),
    ("configs/base.py:tinyy", "unknown config variant 'tinyy'"),
])
def test_bad_config_file_or_variant_is_one_line(tmp_path, config, needle):
  import subprocess, sys  # noqa: E401, PLC0415
  from conftest import ROOT  # noqa: PLC0415
  r = subprocess.run([sys.executable, "-m", "drzjax.main", f"--config={config}",
                      f"--workdir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True,
                     timeout=120)
  _assert_clean_failure(r, needle)
  assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_run_resumes_past_a_truncated_checkpoint_cleanly(reference_run, small_bank, tmp_path):
  """The training command itself meets the half-written checkpoint: one warning, no library
  tracebacks, the previous checkpoint, and the step saved again."""
  wd = str(tmp_path / "run")
  shutil.copytree(reference_run, wd)
  newest = os.path.join(wd, "checkpoints", "12", "state")
  for d, _, fs in os.walk(newest):
    for f in fs:
      path = os.path.join(d, f)
      if os.path.getsize(path) > 64:
        with open(path, "r+b") as fh:
          fh.truncate(os.path.getsize(path) // 3)
  r = run_main(wd, small_bank, "--config.train.steps=14", "--config.train.checkpoint_every=4")
  assert r.returncode == 0, r.stderr
  assert "moved aside" in r.stderr and "resuming from step 8" in r.stderr, r.stderr
  assert "Traceback" not in r.stderr and "Event loop is closed" not in r.stderr, r.stderr
  assert {"12", "12.corrupt", "14"} <= set(os.listdir(os.path.join(wd, "checkpoints")))


def test_grad_accum_gives_the_same_update(small_bank, fixed_batch, one_device_run):
  """4 microbatches of 2 = one batch of 8: the objective divides by the global counts."""
  one = sharding.make_mesh(get_config("tiny").mesh, jax.devices()[:1])
  ref_losses, ref_params = one_device_run[0][:3], one_device_run[1][3]  # after 3 steps
  got_losses, got_params, _ = run_steps(tiny_config(small_bank, grad_accum=4), one,
                                        fixed_batch, 3)
  np.testing.assert_allclose(got_losses, ref_losses, rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=2e-5), got_params, ref_params)


def test_weight_decay_mask_and_lr_schedule():
  import optax  # noqa: PLC0415
  tc = get_config("tiny").train
  tc.lr, tc.warmup_steps, tc.steps, tc.min_lr_ratio, tc.weight_decay = 1e-2, 5, 20, 0.1, 0.5
  sched = train.lr_schedule(tc)
  np.testing.assert_allclose([sched(0), sched(5), sched(20)], [0.0, 1e-2, 1e-3], rtol=1e-6)
  assert sched(2) < sched(4) < sched(5) > sched(12) > sched(19)
  # Zero gradients: only weight decay moves a parameter, and only matrices decay.
  tx = train.make_optimizer(tc)
  params = {"kernel": np.ones((2, 2), np.float32), "bias": np.ones((2,), np.float32),
            "scale": np.ones((2,), np.float32)}
  state = tx.init(params)
  zeros = jax.tree.map(np.zeros_like, params)
  for _ in range(6):
    updates, state = tx.update(zeros, state, params)
    params = optax.apply_updates(params, updates)
  assert np.all(params["kernel"] < 1.0)
  np.testing.assert_array_equal(params["bias"], 1.0)
  np.testing.assert_array_equal(params["scale"], 1.0)


def test_keep_checkpoints_prunes_old_steps(small_bank, tmp_path):
  wd = str(tmp_path / "run")
  r = run_main(wd, small_bank, "--config.train.steps=8", "--config.train.checkpoint_every=2",
               "--config.train.keep_checkpoints=2")
  assert r.returncode == 0, r.stderr
  assert sorted(os.listdir(os.path.join(wd, "checkpoints"))) == ["6", "8"]


def test_init_from_an_export(tiny_run, small_bank, tmp_path):
  """train.init_from: the exported parameters replace the random ones, sharded like them; an
  export of another model size is one clear error naming it."""
  from drzjax import export  # noqa: PLC0415
  out = str(tmp_path / "m")
  export.export(tiny_run, out)
  want = export.flatten(export.load(out)[1])
  config = tiny_config(small_bank)
  mesh = sharding.make_mesh(config.mesh)
  model = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
  state = train.create_state(model, train.make_optimizer(config.train), mesh, 123)
  fresh = export.flatten(jax.device_get(state.params))
  assert any(not np.array_equal(fresh[k], want[k]) for k in want)
  params = train.init_from(out, state.params)
  got = export.flatten(jax.device_get(params))
  assert sorted(got) == sorted(want)
  for k in want:
    np.testing.assert_array_equal(got[k], want[k])
  assert jax.tree.leaves(jax.tree.map(lambda a, b: a.sharding == b.sharding, params,
                                      state.params)) == [True] * len(want)
  config.model.d_model = 32
  other = model_lib.DiarizationTransformer(model_lib.ModelConfig.from_config(config))
  small = train.create_state(other, train.make_optimizer(config.train), mesh, 0)
  with pytest.raises(train.TrainingError, match=f"init_from={out}: .*do not fit"):
    train.init_from(out, small.params)
  with pytest.raises(train.TrainingError, match="missing"):
    train.init_from(str(tmp_path / "nope"), state.params)
