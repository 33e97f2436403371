"""Room impulse responses of simulated rooms (pyroomacoustics' image-source model), drawn by index.

  python -m drzjax.data.rooms [--rooms=200]   # build (or load) the pool and print what it holds

The default reverberation of data/channel.py (`data.room = "pyroomacoustics"`). Simulating a
room takes 0.01-3 s (an RT60 of 0.9 s is ~10^6 image sources), far too slow per mixture, so
mixtures draw from a fixed pool: NUM_ROOMS shoebox rooms (3-10 x 3-8 x 2.4-4 m, RT60 uniform
in 0.2-0.9 s through Sabine's formula, `pyroomacoustics.inverse_sabine`), each with POSITIONS
talker positions 0.5-4 m from one microphone, so the voices of a meeting share a room and each
has its own place in it.

Room i is a pure function of (POOL_SEED, i, sample rate): a mixture draws i from its own rng,
the room is simulated the first time some process needs it, kept in memory and cached on disk,
one file per room, written atomically (worker processes that build the same room at once write
the same bytes; the last rename wins). `python -m drzjax.data.rooms` builds them all ahead.

Two things are done to the image-source output. In a shoebox its decay follows Sabine's RT60
only roughly (T20 0.16 s for 0.2, 1.1 s for 0.9), so the decay is re-shaped by an exponential
until T20 (Schroeder backward integration, -5 to -25 dB) is the drawn RT60 (as RT60
augmentation does, Bryan 2020). And the response keeps its level: amplitude 1/d of the direct
sound at d metres, so a far talker is quieter at the microphone than a near one
(`Room.gains`: each position's energy against the room's mean, which the mixture applies).
"""
import dataclasses
import functools
import importlib.metadata
import os
import sys
import tempfile
import time

import numpy as np

NUM_ROOMS = 200
POSITIONS = 4          # talker positions per room: meetings of up to 4 voices in one room
POOL_SEED = 19
RT60 = (0.2, 0.9)
DISTANCE = (0.5, 4.0)  # source-microphone, metres
VERSION = 1            # bump when what a room holds changes: old cache files are then unused
PRE = 40               # samples kept before the direct sound (half pyroomacoustics' 81-tap
                       # fractional delay): the channel takes them out as a delay
MAX_GAIN_DB = 10.0     # far/near level of a position against the room's mean, clipped


@dataclasses.dataclass(frozen=True)
class Room:
  rt60: float           # as drawn; T20 of every response is this (to ~2%)
  dims: np.ndarray      # (3,) metres
  distances: np.ndarray  # (POSITIONS,) source-microphone, metres
  gains: np.ndarray     # (POSITIONS,) level of each position against the room's mean (linear)
  responses: tuple      # POSITIONS float32 arrays, the direct sound at sample PRE


def t20(h, sr):
  """RT60 from the Schroeder backward integral: the -5..-25 dB slope, extrapolated to 60 dB."""
  e = np.cumsum((h.astype(np.float64) ** 2)[::-1])[::-1]
  db = 10 * np.log10(np.maximum(e / e[0], 1e-30))
  i0, i1 = int(np.argmax(db <= -5)), int(np.argmax(db <= -25))
  slope = np.polyfit(np.arange(i0, i1) / sr, db[i0:i1], 1)[0]
  return -60.0 / slope


def _draw(rng):
  """A room that Sabine's formula can give the drawn RT60, a microphone on a table and
  POSITIONS talkers at seated/standing mouth height, each 0.5-4 m away, 0.3 m from any wall."""
  import pyroomacoustics as pra  # noqa: PLC0415 - only where rooms are simulated
  while True:
    dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
    rt60 = float(rng.uniform(*RT60))
    try:
      e_abs, order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # the room is too large for so short an RT60
      continue
    mic = rng.uniform([0.5, 0.5, 0.7], [dims[0] - 0.5, dims[1] - 0.5, 1.2])
    sources, dists = [], []
    for _ in range(1000):
      d, z, az = rng.uniform(*DISTANCE), rng.uniform(1.0, 1.8), rng.uniform(0, 2 * np.pi)
      r2 = d ** 2 - (z - mic[2]) ** 2
      if r2 <= 0:
        continue
      p = np.array([mic[0] + np.sqrt(r2) * np.cos(az), mic[1] + np.sqrt(r2) * np.sin(az), z])
      if np.all(p >= 0.3) and np.all(p <= dims - 0.3):
        sources.append(p)
        dists.append(d)
        if len(sources) == POSITIONS:
          return dims, rt60, e_abs, order, mic, np.array(sources), np.array(dists)


def simulate(index, sr):
  """Room `index` of the pool (see the module docstring)."""
  import pyroomacoustics as pra  # noqa: PLC0415
  rng = np.random.default_rng([POOL_SEED, int(index)])
  dims, rt60, e_abs, order, mic, sources, dists = _draw(rng)
  # Reciprocity: the image sources of one source at the microphone serve all the talkers
  # (microphones at their places), a quarter of the image-source work of four sources.
  room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(e_abs), max_order=order)
  room.add_source(mic)
  room.add_microphone_array(sources.T)
  room.compute_rir()
  t0 = pra.constants.get("frac_delay_length") // 2  # sample of the emission
  hs = [np.asarray(room.rir[k][0], np.float64) for k in range(POSITIONS)]  # direct: ~1/d
  t = np.maximum(np.arange(max(len(h) for h in hs)) - t0, 0) / sr
  for _ in range(3):  # T20 to the drawn RT60; twice is within 1%, a third for good measure
    measured = float(np.mean([t20(h, sr) for h in hs]))
    env = np.exp(-np.log(1000) * (1 / rt60 - 1 / measured) * t)
    hs = [h * env[:len(h)] for h in hs]
  direct = [t0 + int(round(d / pra.constants.get("c") * sr)) for d in dists]
  hs = [h[a - PRE:a + int(rt60 * sr)].astype(np.float32) for h, a in zip(hs, direct)]
  energy = np.array([float(np.sum(h.astype(np.float64) ** 2)) for h in hs])
  gains = np.clip(np.sqrt(energy / np.exp(np.mean(np.log(energy)))),
                  10 ** (-MAX_GAIN_DB / 20), 10 ** (MAX_GAIN_DB / 20))
  return Room(rt60, dims, dists, gains, tuple(hs))


def cache_path(index, sr):
  # The version from the package metadata: importing pyroomacoustics takes ~1 s, which a worker
  # that only reads cached rooms should not pay.
  base = os.path.expanduser(os.environ.get("DRZJAX_ROOMS_DIR", "~/.cache/drzjax/rooms"))
  return os.path.join(base, f"v{VERSION}-pra{_pra_version()}-seed{POOL_SEED}-sr{sr}",
                      f"room{int(index):04d}.npz")


@functools.lru_cache(maxsize=None)
def _pra_version():
  return importlib.metadata.version("pyroomacoustics")


def _save(path, r):
  """Atomically, through a temporary file of its own (files.atomic_write's fixed name would be
  shared by workers writing the same room at once)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, rt60=r.rt60, dims=r.dims, distances=r.distances, gains=r.gains,
               lengths=[len(h) for h in r.responses], h=np.concatenate(r.responses))
    os.replace(tmp, path)  # atomic: readers see the whole file or none
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _load(path):
  with np.load(path) as z:
    hs = np.split(z["h"], np.cumsum(z["lengths"])[:-1])
    return Room(float(z["rt60"]), z["dims"], z["distances"], z["gains"], tuple(hs))


def room(index, sr):
  """Room `index` (0 <= index < NUM_ROOMS): from memory, else the disk cache, else simulated.
  The first call of a process reads every room already cached (200: ~1 s), so that a worker
  pays that once at its start rather than a file read now and then for its first minutes."""
  pool = _pool(os.path.dirname(cache_path(0, sr)), sr)
  if index not in pool:
    pool[index] = _load_or_build(index, sr)
  return pool[index]


@functools.lru_cache(maxsize=None)
def _pool(directory, sr):
  """{index: Room} of the rooms cached in `directory` (the key: tests move the cache)."""
  del directory  # in the key only
  pool = {}
  for i in range(NUM_ROOMS):
    if os.path.exists(cache_path(i, sr)):
      pool[i] = _load_or_build(i, sr)
  return pool


def clear():
  """Forget the rooms held in memory (tests)."""
  _pool.cache_clear()


def _load_or_build(index, sr):
  path = cache_path(index, sr)
  try:
    return _load(path)
  except (OSError, ValueError, KeyError, EOFError):  # not there (or unreadable): build it
    pass
  r = simulate(index, sr)
  try:
    _save(path, r)
  except OSError as e:  # a read-only cache is no reason to stop: it is rebuilt next time
    print(f"drzjax.data.rooms: could not cache room {index} at {path}: {e}", file=sys.stderr)
  return r


def main(argv):
  rooms = NUM_ROOMS
  for a in argv[1:]:
    if a.startswith("--rooms="):
      rooms = int(a.split("=", 1)[1])
  t0 = time.perf_counter()
  pool = [room(i, 16000) for i in range(rooms)]
  secs = time.perf_counter() - t0
  rt = np.array([r.rt60 for r in pool])
  measured = np.array([t20(h, 16000) for r in pool for h in r.responses]).reshape(rt.size, -1)
  err = np.abs(measured / rt[:, None] - 1)
  mb = sum(h.nbytes for r in pool for h in r.responses) / 2 ** 20
  print(f"{rooms} rooms x {POSITIONS} positions in {secs:.1f} s ({cache_path(0, 16000)}), "
        f"{mb:.1f} MiB; RT60 {rt.min():.2f}-{rt.max():.2f} s, T20 vs drawn: max error "
        f"{100 * err.max():.1f}%; distances "
        f"{min(d for r in pool for d in r.distances):.2f}-"
        f"{max(d for r in pool for d in r.distances):.2f} m; gains "
        f"{20 * np.log10(min(g for r in pool for g in r.gains)):.1f} to "
        f"{20 * np.log10(max(g for r in pool for g in r.gains)):.1f} dB")


if __name__ == "__main__":
  main(sys.argv)
