"""Channel augmentation (data/channel.py) and mixed banks (data/speaker_bank.py MultiBank): each
effect does what its name says, leaves the labels where the speech is, and is deterministic."""
import dataclasses
import os

import numpy as np
import pytest
import scipy.signal

from configs import base
from drzjax.data import build
from drzjax.data import speaker_bank as bank_lib
from drzjax.data import channel
from drzjax.data import mixtures
from drzjax.data import rooms

SR = 16000
TINY = mixtures.MixConfig.from_config(base.get_config("tiny"))
ALL = channel.ChannelConfig(**{f.name: 1.0 for f in dataclasses.fields(channel.ChannelConfig)})


@pytest.fixture(scope="module")
def bank(small_bank):
  return bank_lib.open_bank(small_bank)


def band_share(x, lo, hi):
  f, p = scipy.signal.welch(x, SR, nperseg=1024)
  return p[(f >= lo) & (f <= hi)].sum() / p.sum()


def test_eq_keeps_speech_in_place():
  """The EQ is linear-phase: its delay is taken out, so a click stays at its sample (labels
  are not shifted), and it changes the spectrum (the gains are not all 0 dB)."""
  rng = np.random.default_rng(0)
  (r,) = channel.voice_responses(rng, dataclasses.replace(channel.OFF, eq_prob=1.0), SR, 1)
  assert r.names == ("eq",) and r.gain == 1.0
  x = np.zeros(4000, np.float32)
  x[1000] = 1.0
  y = r(x)
  assert len(y) == len(x) and int(np.argmax(np.abs(y))) == 1000
  noise = np.random.default_rng(1).standard_normal(SR).astype(np.float32)
  ratio = np.abs(np.fft.rfft(r(noise))) / np.abs(np.fft.rfft(noise))
  assert np.ptp(20 * np.log10(ratio[50:3000] + 1e-9)) > 6  # a real colouring, not a flat gain


def test_eq_overlap_add_is_the_convolution():
  """The cached-spectrum overlap-add gives np.convolve's samples, whatever the turn length
  (shorter than a block, several blocks, a ragged end) and the delay taken out."""
  rng = np.random.default_rng(2)
  (r,) = channel.voice_responses(rng, dataclasses.replace(channel.OFF, eq_prob=1.0), SR, 1)
  assert len(r.h) <= channel.SHORT
  for n in (1, 50, 1919, 1920, 5000, 40001):
    x = rng.standard_normal(n).astype(np.float32)
    want = np.convolve(x.astype(np.float64), r.h.astype(np.float64))[r.delay:r.delay + n]
    got = r(x)
    assert got.dtype == np.float32 and len(got) == n
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max() + 1e-7)


def test_synthetic_reverb_has_a_room_tail():
  rng = np.random.default_rng(3)
  (r,) = channel.voice_responses(rng, dataclasses.replace(channel.OFF, reverb_prob=1.0), SR, 1,
                                 room="synthetic")
  assert r.names == ("reverb",) and r.delay == 0 and r.h[0] == 1.0
  tail = np.sum(r.h[1:].astype(np.float64) ** 2)
  drr_db = 10 * np.log10(1.0 / tail)
  assert 0 - 0.1 <= drr_db <= 12 + 0.1            # direct-to-reverberant ratio as drawn
  assert len(r.h) >= int(0.15 * SR)                # at least the shortest RT60
  # The energy decays: the last quarter of the tail holds far less than the first.
  q = len(r.h) // 4
  assert np.sum(r.h[-q:] ** 2) < 0.01 * np.sum(r.h[1:q] ** 2)


def test_rooms_have_the_rt60_they_were_drawn_with(tmp_path, monkeypatch):
  """Pool rooms: T20 (pyroomacoustics' own Schroeder measure, not ours) within 10% of the drawn
  RT60 at every position, RT60 and distances in their ranges, the direct sound at PRE and
  ~1/d loud, and a room read back from the disk cache equals the simulated one."""
  from pyroomacoustics.experimental import measure_rt60  # noqa: PLC0415
  monkeypatch.setenv("DRZJAX_ROOMS_DIR", str(tmp_path))
  # Quick rooms (a 0.9 s one takes seconds); in room 6 (9 x 4 x 2.6 m) and 9 the image-source
  # decay alone is 14-44% slower than drawn.
  for i in (0, 6, 9):
    r = rooms.simulate(i, SR)
    assert rooms.RT60[0] <= r.rt60 <= rooms.RT60[1]
    assert np.all((r.distances >= 0.5) & (r.distances <= 4.0)) and len(r.responses) == 4
    for h, d in zip(r.responses, r.distances):
      assert abs(measure_rt60(h, SR, decay_db=20) / r.rt60 - 1) < 0.10, (i, r.rt60)
      assert int(np.argmax(np.abs(h))) == rooms.PRE or d > 2  # far: a reflection may be louder
      assert 0.5 < np.abs(h[rooms.PRE - 2:rooms.PRE + 3]).max() * d < 1.2
      assert len(h) == rooms.PRE + int(r.rt60 * SR)
    # Nearer is louder (energy at the microphone, the gains the mixture applies).
    order = np.argsort(r.distances)
    assert r.gains[order[0]] > r.gains[order[-1]]
  rooms.clear()
  built = rooms.room(2, SR)
  assert os.path.exists(rooms.cache_path(2, SR))
  rooms.clear()
  loaded = rooms.room(2, SR)  # from the file this time
  rooms.clear()
  assert loaded is not built and loaded.rt60 == built.rt60
  for a, b in zip(loaded.responses, built.responses):
    np.testing.assert_array_equal(a, b)


def test_voices_of_a_mixture_share_a_room_at_different_places():
  cfg = dataclasses.replace(channel.OFF, reverb_prob=1.0)
  rs = channel.voice_responses(np.random.default_rng(5), cfg, SR, 3)
  again = channel.voice_responses(np.random.default_rng(5), cfg, SR, 3)
  assert all(r.names == ("reverb",) and r.delay == rooms.PRE for r in rs)
  # One room: the same length (PRE + RT60); three places: three different responses.
  assert len({len(r.h) for r in rs}) == 1
  assert len({r.h.tobytes() for r in rs}) == 3
  assert [r.h.tobytes() for r in rs] == [r.h.tobytes() for r in again]
  # EQ then room: the delays add up and the direct sound stays where the speech is.
  both = dataclasses.replace(cfg, eq_prob=1.0)
  (r,) = channel.voice_responses(np.random.default_rng(6), both, SR, 1)
  assert r.names == ("eq", "reverb") and r.delay == 64 + rooms.PRE
  x = np.zeros(8000, np.float32)
  x[1000] = 1.0
  assert int(np.argmax(np.abs(r(x)))) == 1000
  with pytest.raises(ValueError, match="data.room"):
    channel.voice_responses(np.random.default_rng(0), cfg, SR, 1, room="cathedral")


def test_room_mixtures_are_a_function_of_seed_and_index(bank, tmp_path, monkeypatch):
  """The same (seed, index) gives the same audio with the rooms in memory, read back from the
  disk cache (another process, a resume) or simulated afresh (another machine)."""
  cfg = dataclasses.replace(TINY, channel=dataclasses.replace(channel.OFF, reverb_prob=1.0))
  speakers = bank.speakers("train")
  a = mixtures.make_conversation(bank, speakers, 0, 3, cfg)
  assert a.channel and a.channel[0].startswith("reverb x")
  rooms.clear()
  b = mixtures.make_conversation(bank, speakers, 0, 3, cfg)  # from the disk cache
  monkeypatch.setenv("DRZJAX_ROOMS_DIR", str(tmp_path))
  rooms.clear()
  c = mixtures.make_conversation(bank, speakers, 0, 3, cfg)  # simulated again
  rooms.clear()
  for m in (b, c):
    np.testing.assert_array_equal(a.audio, m.audio)
    assert a.segments == m.segments
  assert not np.array_equal(mixtures.make_conversation(bank, speakers, 0, 4, cfg).audio[:1000],
                            a.audio[:1000])


def test_floor_pool_is_fixed_and_coloured():
  """The floor's pool is the same in every process (a fixed seed), each row has unit power and
  the colours go from flat to dark; a floor longer than the pool wraps without a seam."""
  pool = channel._floor_pool()
  channel._floor_pool.cache_clear()
  np.testing.assert_array_equal(pool, channel._floor_pool())
  np.testing.assert_allclose(np.mean(pool.astype(np.float64) ** 2, axis=1), 1, rtol=1e-3)
  low = [band_share(row[:SR], 0, 500) for row in pool]
  assert low[0] < 0.25 and low[-1] > 0.9 and np.all(np.diff(low) > 0)
  for row in pool:  # periodic: the step from the last sample to the first is a usual one
    assert abs(row[0] - row[-1]) < 4 * np.std(np.diff(row))
  x = channel._floor(np.random.default_rng(1), channel.FLOOR_LEN + SR)
  assert len(x) == channel.FLOOR_LEN + SR and x.dtype == np.float32


def test_hum_is_periodic_mains():
  h = channel.hum(np.random.default_rng(0), 2 * SR, SR)
  f = np.fft.rfftfreq(len(h), 1 / SR)
  top = f[np.argsort(np.abs(np.fft.rfft(h)))[-3:]]
  assert set(np.round(top) % 50) == {0} or set(np.round(top) % 60) == {0}
  assert len(h) == 2 * SR and h.dtype == np.float32


def test_telephone_band():
  x = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
  y = channel._telephone(x, SR)
  assert y.dtype == np.float32 and len(y) == len(x)
  assert band_share(x, 4000, 8000) > 0.4
  assert band_share(y, 4000, 8000) < 0.02 and band_share(y, 0, 200) < 0.02
  # Sampled at 8 kHz: the top band is as empty as an 8 kHz file's after audio.load resamples it
  # (the mu-law noise of the earlier 16 kHz quantisation left ~1e-3 of the power there).
  assert band_share(y, 4200, 8000) < 1e-4
  q = channel._mu_law(x)
  assert len(np.unique(np.round(np.abs(q) / np.abs(q).max(), 6))) <= 128  # 8-bit mu-law levels


def test_breaths_fall_in_pauses():
  n = 4 * SR
  active = np.zeros(n, bool)
  active[:2 * SR] = True
  b = channel._breaths(np.random.default_rng(0), n, SR, active)
  assert np.sum(b[2 * SR:] ** 2) > 0.99 * np.sum(b ** 2)


def test_conversation_with_every_effect(bank):
  """All dials at 1: every effect is applied and said, silence is never digital zero, the
  mixture is a pure function of (seed, index), and the labels still fit the audio length."""
  cfg = dataclasses.replace(TINY, channel=ALL, noise_prob=0.0)
  speakers = bank.speakers("train")
  a = mixtures.make_conversation(bank, speakers, 0, 5, cfg)
  b = mixtures.make_conversation(bank, speakers, 0, 5, cfg)
  np.testing.assert_array_equal(a.audio, b.audio)
  names = {e.split(" ")[0] for e in a.channel}
  assert names == set(channel.EFFECTS), a.channel
  # (8-bit mu-law rounds the quietest samples to 0, as a phone line does: without it, none.)
  no_phone = dataclasses.replace(cfg, channel=dataclasses.replace(ALL, telephone_prob=0.0))
  c = mixtures.make_conversation(bank, speakers, 0, 5, no_phone)
  assert np.count_nonzero(c.audio == 0) == 0
  assert max(e for _, e, _ in a.segments) <= len(a.audio) / SR + 1e-6
  clean = mixtures.make_conversation(bank, speakers, 0, 5, dataclasses.replace(TINY,
                                                                                noise_prob=0.0))
  assert clean.channel == ()
  assert np.count_nonzero(clean.audio == 0) > 0.05 * len(clean.audio)  # the fixture's silences


def test_dials_at_zero_draw_nothing(bank):
  """With every dial at 0 the channel code takes no random number, so a clean config's stream
  is the one it was before channels existed; one dial above 0 does draw."""
  speakers = bank.speakers("train")
  mix = np.zeros(SR, np.float32)
  active = np.zeros(SR, bool)
  for cfg, draws in ((channel.OFF, False), (dataclasses.replace(channel.OFF, hum_prob=0.5), True)):
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    channel.voice_responses(rng, cfg, SR, 3)
    channel.apply(mix.copy(), active, rng, cfg, bank, speakers, speakers[:2], SR)
    assert (rng.bit_generator.state != before) == draws


def test_channel_config_checks_probabilities():
  c = base.get_config("tiny")
  c.channel.reverb_prob = 1.5
  with pytest.raises(ValueError, match="channel.reverb_prob"):
    channel.ChannelConfig.from_config(c)


# --- mixed banks --------------------------------------------------------------------------------

def test_multibank_weights_and_names(small_bank, tmp_path):
  from conftest import write_bank
  other = write_bank(tmp_path / "other", num_speakers=6, seed=1)
  multi = bank_lib.open_bank(f"{small_bank},{other}", (3, 1))
  speakers = multi.speakers("train")
  assert {s.split("/")[0] for s in speakers} == {"bank", "other"}
  assert len(speakers) == len(bank_lib.Bank(small_bank).speakers("train")) + 2
  # Each bank's audio is read from that bank.
  utt = multi.utterances_of(f"other/{bank_lib.Bank(other).speakers('train')[0]}")[0]
  np.testing.assert_array_equal(multi.audio(utt), bank_lib.Bank(other).audio(
      dataclasses.replace(utt, source=0)))
  # Voices drawn: 3:1 between the banks whatever their sizes, and mixtures combine banks.
  cfg = dataclasses.replace(TINY, num_speakers=2)
  drawn = [mixtures._draw_voices(np.random.default_rng([7, i]), multi, speakers, cfg)
           for i in range(400)]
  share = np.mean([v.startswith("bank/") for d in drawn for v in d])
  assert 0.68 < share < 0.82, share
  assert any(len({v.split("/")[0] for v in d}) == 2 for d in drawn)
  # Weight 0: never drawn.
  zero = bank_lib.open_bank(f"{small_bank},{other}", (1, 0))
  assert all(v.startswith("bank/") for i in range(100) for v in mixtures._draw_voices(
      np.random.default_rng(i), zero, zero.speakers("train"), cfg))


def test_multibank_errors(small_bank, tmp_path):
  with pytest.raises(bank_lib.BankError, match="one non-negative weight per bank"):
    bank_lib.open_bank(f"{small_bank},{small_bank}", (1,))
  with pytest.raises(bank_lib.BankError, match="no such bank"):
    bank_lib.open_bank(f"{small_bank},{tmp_path / 'nope'}")
  config = base.get_config("tiny")
  config.bank.path, config.bank.weights = f"{small_bank},{small_bank}", "1,2,3"
  with pytest.raises(bank_lib.BankError, match="3 entries for 2 bank"):
    build.default_bank(config)
  config.bank.weights = "1,2"
  assert build.default_bank(config) == f"{small_bank},{small_bank}"


def test_evaluation_mixtures_are_channel_free(small_bank):
  """The held-out test set (scoring, as evaluate uses it) is the same audio whatever channel
  dials the model trained with, and --split picks the speakers."""
  from drzjax import scoring  # noqa: PLC0415
  c = base.get_config("tiny")
  c.bank.path = small_bank
  for f in dataclasses.fields(channel.ChannelConfig):
    c.channel[f.name] = 1.0
  test, _ = scoring.heldout_mixtures(c, 4)
  assert all(m.channel == () for m in test)
  assert {s for m in test for s in m.speakers} <= set(bank_lib.Bank(small_bank).speakers("test"))
  train, _ = scoring.heldout_mixtures(c, 4, bank_path=small_bank, split="train")
  assert {s for m in train for s in m.speakers} <= set(
      bank_lib.Bank(small_bank).speakers("train"))


def test_preview_says_which_channel_each_mixture_got(bank, tmp_path, capsys):
  from drzjax.data import preview  # noqa: PLC0415
  cfg = dataclasses.replace(TINY, channel=ALL)
  preview.write_preview(bank, cfg, "train", 0, range(2), str(tmp_path))
  lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("mix")]
  assert len(lines) == 2 and all("channel: eq x" in ln and "telephone" in ln for ln in lines)
  preview.write_preview(bank, TINY, "train", 0, range(2), str(tmp_path / "clean"))
  assert "channel:" not in capsys.readouterr().out
