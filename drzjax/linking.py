"""Who is who across a long file (docs/design.md, "Linking chunks"): a CAM++ speaker embedding
for each (chunk, letter) the decoder wrote, from that letter's speech where nobody else talks;
the letters of all chunks joined by agglomerative clustering that merges two letters of one
chunk (the decoder said they are different voices) only when they sound very alike; enrolled
voices join the clustering as anchors (the centroid of their clips' embeddings) and name the
clusters they end up in.

The pieces are plain functions on numpy arrays, so diarize.py stays a loop over chunks:
  unit = Unit(chunk, key, group, embed(campp, clip_for(...)), clean_secs)
  enrolled = enrolled_centroids(campp, clips, sr)
  labels = cluster(units + anchors(enrolled), threshold, num_speakers, min_speakers, max_speakers)
  names = name_anchored(units + anchors(enrolled), labels, enrolled)
"""
import collections
import dataclasses

import numpy as np

from drzjax import intervals

# Embedded clip lengths: a clip is repeated up to the shortest of these that holds it (cut to
# the last), so a file compiles the embedder for four shapes only and every second of speech is
# heard. Cutting clips down to the longest length they filled, from seven lengths, scored worse:
# 2-minute conversations 17.2 / 12.3 / 18.2% DER against 15.8 / 11.1 / 16.6% (MODEL.md).
CLIP_SECS = (1.0, 2.0, 4.0, 8.0)
MIN_SEED_SECS = 1.5   # clean speech a letter needs to found a speaker; shorter ones join one
EMBED_DIM = 192
MIN_CLIP_SECS = 0.3   # less speech than this (overlapped included) is not embedded at all
# Cosine similarity of CAM++ embeddings above which two letters are one voice, and above which
# a file speaker takes an enrolled name. Calibrated on training voices (MODEL.md, "Linking";
# docs/model/linking/calibrate.py). One threshold cannot serve both lengths: on 2-minute
# conversations of 3 LibriSpeech / speechocean train voices 0.35 beats 0.4 a little (DER 7.0 /
# 11.1% against 7.0 / 11.5%), on 10-minute meetings of 12 speechocean train voices it merges
# far too much (41.2% against 32.7%; 0.5: 28.5% but +2 to +10 speakers). 0.4 kept.
THRESHOLD = 0.4
ENROLL_THRESHOLD = 0.4
# The decoder sometimes gives one voice two letters in one chunk (LibriSpeech voices: 3-4 chunks
# of 12 in some conversations), so two speakers that share a chunk still merge when this alike.
SAME_CHUNK_THRESHOLD = 0.7
# A speaker heard in one chunk only, with under this share of the file's speech, is taken for
# such a split and joins the most similar speaker.
MIN_SHARE = 0.03
# A segment with this much solo speech is embedded on its own and goes to the speaker whose
# centroid is nearest: the decoder's letters within a chunk join voices (given each segment's
# true voice, 2-minute conversations of LibriSpeech test voices would score 3.6% DER; each
# letter's majority voice, 13.6%). Calibrated on training voices (docs/model/linking/
# calibrate.py --segment-secs): 2-minute conversations of espeak / LibriSpeech / speechocean
# train voices, DER 10.7 / 7.0 / 11.5% at 1 s, 10.0 / 4.3 / 9.6% at 0.5 s, 9.8 / 3.9 / 9.5% at
# 0.3 s. A segment moves when nearer another centroid than its letter's by REFINE_MARGIN; with
# the k-means rounds of both kinds (UNIT_ROUNDS, SEGMENT_ROUNDS), 0 beats 0.1 on the same
# training voices (fifth session: 4.98 / 5.43 / 11.93 -> 4.61 / 5.51 / 9.76%).
SEGMENT_SECS = MIN_CLIP_SECS
REFINE_MARGIN = 0.0
# Then k-means rounds on the segments: centroids recomputed from the segments where they now
# are (each segment one vote; a letter with no segment embedded votes with its own embedding,
# weighted by its seconds, as do enrolled anchors), every segment to the nearest, until nothing
# moves. The first pass's centroids are the letters', and a letter that joins two voices pulls
# its speaker's centroid towards the other. Training voices (fifth session, MODEL.md), DER
# without -> with 10 rounds: 2-minute conversations of espeak / LibriSpeech / speechocean
# 4.61 / 5.51 / 9.76 -> 3.78 / 5.56 / 8.78%; 10-minute meetings of 12 voices 48.5 / 10.3 / 30.3
# -> 47.4 / 9.5 / 23.5% (1 and 3 rounds fell between).
SEGMENT_ROUNDS = 10
# After the merges, k-means rounds on the letters (`reassign`): agglomeration never revisits a
# merge, and in long meetings a letter joined early to a similar voice stays there. On 10-minute
# meetings of 12 speechocean *train* voices 37.7 -> 32.6% DER with 2 rounds, 31.4% with 5 (35.3%
# with 2 and a margin of 0.05); 2-minute conversations of training voices unchanged (MODEL.md
# "Fourth session").
UNIT_ROUNDS = 5
# Many similar voices (children, synthetic ones) sit above THRESHOLD from each other, and
# agglomeration merges them; the graph of each letter's nearest letters still shows them apart.
# The eigengap of that graph (`eigengap_count`: each letter's max(EIGEN_NEIGHBOURS,
# EIGEN_FRACTION of all) most similar letters of other chunks, normalised affinity, largest gap
# among the first EIGEN_MAX eigenvalues) counts the speakers, and when it says FLOOR_FROM or more
# the clustering keeps at least that many. On 10-minute meetings of 12 training voices
# (fifth session, MODEL.md) espeak / speechocean / LibriSpeech DER 47.4 / 23.5 / 9.5 -> 24.8 /
# 18.6 / 9.5%; 2-minute conversations of 3 voices never reach the floor. It over-counts: on
# letters pooled from 1 / 2 / 3 / 4 training voices it says >= 6 in 0 / 0.2 / 1.2 / 3.8% of sets,
# and a floor of 4 would misfire on 12% of 3-voice sets (a forced 4th speaker costs 4-7 points).
EIGEN_NEIGHBOURS = 6
EIGEN_FRACTION = 0.05
EIGEN_MAX = 30
FLOOR_FROM = 6
ANCHOR_SECS = 8.0   # the weight of an enrolled voice's centroid, as seconds of speech
ANCHOR_CHUNK = -1   # the chunk all anchors are in: no chunk of the file


@dataclasses.dataclass
class Unit:
  chunk: int          # which chunk the letter was written in
  key: object         # what the chunk loop called it (unique per chunk)
  group: object       # units of one group start in one cluster (diarize's prompt names)
  emb: np.ndarray     # (192,) L2-normalised, or None (too little speech to embed)
  secs: float         # clean (single-speaker) speech behind emb
  parts: list = dataclasses.field(default_factory=list)  # [(segment index, emb)], segment_parts


def normalised(v):
  """v scaled to length 1 (a zero vector stays zero)."""
  return v / max(np.linalg.norm(v), 1e-12)


def solo_regions(segs, key):
  """[(start, end)] where `key` speaks and no other label of `segs` [(s, e, label)] does."""
  mine = sorted((s, e) for s, e, k in segs if k == key)
  others = sorted((s, e) for s, e, k in segs if k != key)
  return [p for span in mine for p in intervals.subtract(span, others, eps=1e-6)]


def clip_for(wave, sr, segs, key):
  """The audio to embed for `key` in a chunk: its solo speech joined, else (when that is under
  MIN_CLIP_SECS) all its speech; -> (clip, seconds of solo speech)."""
  solo = solo_regions(segs, key)
  regions = solo if sum(e - s for s, e in solo) >= MIN_CLIP_SECS else [
      (s, e) for s, e, k in segs if k == key]
  parts = [wave[int(s * sr):int(e * sr)] for s, e in regions]
  clip = np.concatenate(parts) if parts else np.zeros(0, np.float32)
  return clip, sum(e - s for s, e in solo)


def fit_clip(clip, sr):
  """`clip` repeated up to the shortest CLIP_SECS it fits in (cut to the longest when longer),
  so all of it is heard; None if it has under MIN_CLIP_SECS of audio."""
  if len(clip) < MIN_CLIP_SECS * sr:
    return None
  n = min([int(c * sr) for c in CLIP_SECS if c * sr >= len(clip)], default=int(CLIP_SECS[-1] * sr))
  if len(clip) < n:
    clip = np.tile(clip, -(-n // len(clip)))
  return np.asarray(clip[:n], np.float32)


def embed(campp, clip, sr):
  """A clip -> its L2-normalised CAM++ embedding (192,), or None when it is too short."""
  from drzjax.nets import campplus  # noqa: PLC0415 - jax only when linking
  x = fit_clip(clip, sr)
  if x is None:
    return None
  e = np.asarray(campplus.embed(campp, x[None]))[0].astype(np.float64)
  return normalised(e)


def segment_parts(campp, wave, sr, segs, key, first_index, whole=None):
  """Embeddings of `key`'s segments in a chunk (segs: [(s, e, label)], chunk-local; segment i
  of segs is segment first_index + i of the file) whose solo part is at least SEGMENT_SECS:
  -> [(segment index, embedding)]. `whole`: the letter's own embedding (`clip_for`'s clip),
  which is that of its segment when it has only one: not computed twice."""
  mine = [i for i, (_, _, k) in enumerate(segs) if k == key]
  out = []
  for i in mine:
    s, e, _ = segs[i]
    others = [x for j, x in enumerate(segs) if j != i]
    solo = solo_regions([(s, e, "me")] + [(a, b, "other") for a, b, _ in others], "me")
    if sum(b - a for a, b in solo) >= SEGMENT_SECS:
      if len(mine) == 1 and whole is not None:
        out.append((first_index + i, whole))
        continue
      clip = np.concatenate([wave[int(a * sr):int(b * sr)] for a, b in solo])
      out.append((first_index + i, embed(campp, clip, sr)))
  return out


def _assign_parts(units, labels, cents, margin):
  """{segment index: cluster} for each unit part nearer another centroid than its letter's
  cluster by `margin` (cents: {cluster: unit vector})."""
  out = {}
  for u, c in zip(units, labels):
    for i, e in u.parts:
      sims = {k: float(v @ e) for k, v in cents.items()}
      best = max(sims, key=sims.get)
      if best != c and sims[best] - sims.get(c, -1.0) >= margin:
        out[i] = best
  return out


def _part_centroids(units, labels, moved):
  """{cluster: unit vector} from the segments where `moved` puts them (one vote each), and the
  embeddings of units without embedded segments (weighted by their seconds)."""
  sums = {}
  for u, c in zip(units, labels):
    if u.emb is not None and not u.parts:
      sums[c] = sums.get(c, 0) + max(u.secs, 1e-3) * u.emb
    for i, e in u.parts:
      k = moved.get(i, c)
      sums[k] = sums.get(k, 0) + e
  return {c: normalised(v) for c, v in sums.items()}


def refine(units, labels, margin=REFINE_MARGIN, rounds=None):
  """Segments that sound more like another speaker than their own: {segment index: cluster}
  for each unit part whose similarity to another cluster's centroid beats its letter's
  cluster's by margin; then `rounds` (default SEGMENT_ROUNDS) k-means passes with the centroids
  of the segments where they are (`_part_centroids`), stopping when nothing moves."""
  moved = _assign_parts(units, labels, centroids(units, labels), margin)
  for _ in range(SEGMENT_ROUNDS if rounds is None else rounds):
    again = _assign_parts(units, labels, _part_centroids(units, labels, moved), margin)
    if again == moved:
      break
    moved = again
  return moved


def _unit_centroid(units, members):
  """The speech-weighted mean of the members' embeddings, L2-normalised."""
  v = sum(max(units[i].secs, 1e-3) * units[i].emb for i in members)
  return normalised(v)


def _merge_seeds(units, clusters, chunks, threshold, target_min, target_max,
                 same_chunk_threshold):
  """`cluster`'s agglomerative merges of the seed clusters -> (clusters, chunks, centroids), in
  order.

  The cluster-pair similarities and chunk clashes live in (k, k) arrays with each row's best
  partner, updated for the merged pair only: the loop over all pairs in Python took 26 s for an
  hour of audio (746 units) and grew with the cube of its length (bench/clustering.py). The
  pair merged is the first most similar allowed one in row-major order, as that loop picked."""
  k = len(clusters)
  cents = np.stack([_unit_centroid(units, c) for c in clusters])
  sim = cents @ cents.T
  ids = {c: j for j, c in enumerate(sorted({c for cs in chunks for c in cs}))}
  member = np.zeros((k, len(ids)), np.float32)
  for a, cs in enumerate(chunks):
    member[a, [ids[c] for c in cs]] = 1.0
  clash = (member @ member.T) > 0
  of_file = np.array([any(units[i].chunk != ANCHOR_CHUNK for i in c) for c in clusters])
  alive = np.ones(k, bool)
  idx = np.arange(k)
  # score[a, b]: the similarity of a mergeable pair a < b, else -inf; each row's first maximum
  # is kept, so the pair picked (the first row holding the largest, its first column) is the
  # first maximum in row-major order. A merge rewrites row and column a and empties b: O(k)
  # work per merge, beside the rows whose best partner was a or b.
  score = np.where((idx[:, None] < idx[None, :]) & ((sim >= same_chunk_threshold) | ~clash),
                   sim, -np.inf)
  best = np.argmax(score, axis=1)
  best_sim = score[idx, best]

  def rescan(rows):
    best[rows] = np.argmax(score[rows], axis=1)
    best_sim[rows] = score[rows, best[rows]]

  speakers = int(of_file.sum())
  while speakers > max(1, target_min):
    a = int(np.argmax(best_sim))
    b = int(best[a])
    if best_sim[a] == -np.inf or (
        sim[a, b] < threshold and not (target_max and speakers > target_max)):
      break
    speakers -= int(of_file[a] and of_file[b])
    clusters[a] += clusters[b]
    chunks[a] |= chunks[b]
    alive[b] = False
    of_file[a] |= of_file[b]
    clash[a] |= clash[b]
    clash[:, a] = clash[a]
    cents[a] = _unit_centroid(units, clusters[a])
    sim[a] = sim[:, a] = cents @ cents[a]
    allowed = alive & ((sim[a] >= same_chunk_threshold) | ~clash[a])
    score[b], score[:, b], best_sim[b] = -np.inf, -np.inf, -np.inf
    score[a] = np.where(allowed & (idx > a), sim[a], -np.inf)
    score[:, a] = column = np.where(allowed & (idx < a), sim[a], -np.inf)
    stale = alive & ((best == a) | (best == b))
    stale[a] = True
    better = alive & ~stale & ((column > best_sim) | ((column == best_sim) & (best > a)))
    best[better], best_sim[better] = a, column[better]
    rescan(np.flatnonzero(stale))
  keep = np.flatnonzero(alive)
  return [clusters[a] for a in keep], [chunks[a] for a in keep], [cents[a] for a in keep]


def reassign(units, labels, rounds=UNIT_ROUNDS):
  """Cluster labels (one per unit) -> the same with each embedded letter moved to the cluster
  whose centroid it is most similar to, if more than to its own and the cluster holds no other
  letter of its chunk; `rounds` passes, centroids recomputed between them, stopping when nothing
  moves. Enrolled anchors, letters alone in their cluster and letters of a group of several
  (a prompt name) stay."""
  labels = list(labels)
  group_size = collections.Counter(u.group for u in units)
  for _ in range(rounds):
    members, chunks = {}, {}
    for i, c in enumerate(labels):
      members.setdefault(c, []).append(i)
      chunks.setdefault(c, collections.Counter())[units[i].chunk] += 1
    cents = {c: _unit_centroid(units, [i for i in m if units[i].emb is not None])
             for c, m in members.items() if any(units[i].emb is not None for i in m)}
    moved = False
    for i, u in enumerate(units):
      c = labels[i]
      if (u.emb is None or u.chunk == ANCHOR_CHUNK or group_size[u.group] > 1
          or len(members[c]) <= 1):
        continue
      best, best_sim = None, float(cents[c] @ u.emb) if c in cents else -1.0
      for o, v in cents.items():
        if o != c and not chunks[o][u.chunk]:
          sim = float(v @ u.emb)
          if sim > best_sim:
            best, best_sim = o, sim
      if best is not None:
        members[c].remove(i)
        members[best].append(i)
        chunks[c][u.chunk] -= 1
        chunks[best][u.chunk] += 1
        labels[i] = best
        moved = True
    if not moved:
      break
  return labels


def eigengap_count(units):
  """How many speakers the file's letters hold, by the eigengap of their nearest-neighbour
  graph: affinity = cosine (negative as 0) between embedded letters of different chunks, each
  row keeping its max(EIGEN_NEIGHBOURS, EIGEN_FRACTION * n) largest (symmetrised), normalised
  D^-1/2 A D^-1/2; the count is where the largest gap among its first EIGEN_MAX + 1 eigenvalues
  falls. Enrolled anchors are left out; fewer than 3 letters -> 1."""
  embs = [(u.chunk, u.emb) for u in units if u.emb is not None and u.chunk != ANCHOR_CHUNK]
  n = len(embs)
  if n < 3:
    return 1
  e = np.stack([x for _, x in embs])
  chunk = np.array([c for c, _ in embs])
  a = np.maximum(e @ e.T, 0.0)
  a[chunk[:, None] == chunk[None, :]] = 0.0   # a chunk's letters: the decoder says two voices
  keep = min(n - 1, max(EIGEN_NEIGHBOURS, int(np.ceil(EIGEN_FRACTION * n))))
  kth = np.partition(a, n - keep, axis=1)[:, n - keep:n - keep + 1]   # each row's keep-th largest
  a = np.where(a >= kth, a, 0.0)
  a = np.maximum(a, a.T)
  d = np.maximum(a.sum(1), 1e-9)
  m = min(EIGEN_MAX, n - 1)
  w = top_eigenvalues(a / np.sqrt(d[:, None] * d[None, :]), m + 1)
  return int(np.argmax(w[:m] - w[1:m + 1])) + 1


def top_eigenvalues(sym, count, dense_max=1000):
  """The `count` largest eigenvalues of a symmetric matrix, largest first. Up to dense_max rows
  all of them (LAPACK); above, ARPACK on the sparse matrix (the graph keeps a few neighbours a
  row): 5,794 letters (8 hours) took 9.1 s dense, 0.9 s sparse, with the same count."""
  n = len(sym)
  if n <= dense_max or count >= n - 1:
    return np.linalg.eigvalsh(sym)[::-1][:count]
  import scipy.sparse  # noqa: PLC0415 - only for long files
  import scipy.sparse.linalg  # noqa: PLC0415
  w = scipy.sparse.linalg.eigsh(scipy.sparse.csr_matrix(sym), k=count, which="LA",
                                return_eigenvectors=False)
  return np.sort(w)[::-1]


def cluster(units, threshold=THRESHOLD, num_speakers=0, min_speakers=0, max_speakers=0,
            same_chunk_threshold=SAME_CHUNK_THRESHOLD, min_share=None):
  """Agglomerative clustering of units -> one cluster index per unit (0, 1, ... in order of
  first appearance).

  Units of one group start together. The most similar pair of clusters (cosine of
  speech-weighted centroids) merges while its similarity is at least `threshold`, or while
  there are more clusters than num_speakers / max_speakers, and never below num_speakers /
  min_speakers; two clusters holding letters of one chunk (the decoder said: two voices) merge
  only at `same_chunk_threshold` or above. Units with under MIN_SEED_SECS of solo speech do not
  found clusters: each joins the most similar cluster it may join afterwards (a new one only
  when it may join none). Units without an embedding join the largest cluster they may join.
  Last, a cluster of one chunk holding under `min_share` (default MIN_SHARE) of the file's solo
  speech joins the cluster most similar to it, and each letter moves to the centroid it is
  nearest (`reassign`).
  Units of ANCHOR_CHUNK are enrolled voices (`anchors`): they share a
  chunk, so two merge only when very alike, and a cluster of anchors alone is not counted as a
  speaker. Without num_speakers / min_speakers, `eigengap_count`'s count, when at least
  FLOOR_FROM, is the floor (capped by max_speakers).
  """
  if not units:
    return []
  min_share = MIN_SHARE if min_share is None else min_share
  target_max = num_speakers or max_speakers
  target_min = num_speakers or min_speakers
  if not target_min:  # no count given: the eigengap's, when it says many (FLOOR_FROM)
    k = eigengap_count(units)
    if k >= FLOOR_FROM:
      target_min = min(k, target_max or k)
  seeds = [i for i, u in enumerate(units) if u.emb is not None and u.secs >= MIN_SEED_SECS]
  if not seeds:
    seeds = [i for i, u in enumerate(units) if u.emb is not None]
  seed_set = set(seeds)
  groups = {}
  for i in seeds:
    groups.setdefault(units[i].group, []).append(i)
  clusters = list(groups.values())
  chunks = [{units[i].chunk for i in c} for c in clusters]
  clusters, chunks, cents = _merge_seeds(units, clusters, chunks, threshold, target_min,
                                         target_max, same_chunk_threshold)

  def speakers():  # clusters of the file's letters (an enrolled voice's anchor alone is none)
    return sum(any(units[i].chunk != ANCHOR_CHUNK for i in c) for c in clusters)

  label = {}
  for c, members in enumerate(clusters):
    for i in members:
      label[i] = c
  # The rest: nearest allowed cluster (embedded first, most speech first), else a new one.
  rest = sorted((i for i in range(len(units)) if i not in seed_set),
                key=lambda i: (units[i].emb is None, -units[i].secs))
  of_group = {units[i].group: label[i] for i in seeds}
  for i in rest:
    u = units[i]
    allowed = [c for c in range(len(clusters)) if u.chunk not in chunks[c] or (
        u.emb is not None and float(cents[c] @ u.emb) >= same_chunk_threshold)]
    if of_group.get(u.group) in allowed:  # its group (a prompt name) already has a speaker
      c = of_group[u.group]
    elif allowed and u.emb is not None:
      c = max(allowed, key=lambda c: float(cents[c] @ u.emb))
    elif allowed:
      c = max(allowed, key=lambda c: sum(units[j].secs for j in clusters[c]))
    else:
      clusters.append([])
      chunks.append(set())
      cents.append(u.emb if u.emb is not None else np.zeros(EMBED_DIM))
      c = len(clusters) - 1
    clusters[c].append(i)
    chunks[c].add(u.chunk)
    label[i] = c
    of_group.setdefault(u.group, c)
  # A speaker heard in one chunk only, with little of the file's speech, is most often a voice
  # the decoder split in two there: it joins the nearest speaker, whatever the chunk says.
  total = sum(u.secs for u in units) or 1.0
  for c in range(len(clusters)):
    members = clusters[c]
    if (speakers() > max(1, target_min) and members and len(chunks[c]) == 1
        and ANCHOR_CHUNK not in chunks[c]
        and sum(units[i].secs for i in members) < min_share * total):
      others = [o for o in range(len(clusters)) if o != c and clusters[o]]
      if others:
        o = max(others, key=lambda o: float(cents[o] @ cents[c]))
        for i in members:
          label[i] = o
        clusters[o] += members
        chunks[o] |= chunks[c]
        clusters[c] = []
  label = reassign(units, [label[i] for i in range(len(units))])
  # Renumber by first appearance.
  order = {}
  for i in range(len(units)):
    order.setdefault(label[i], len(order))
  return [order[label[i]] for i in range(len(units))]


def centroids(units, labels):
  """{cluster: speech-weighted L2-normalised centroid} over the embedded units."""
  out = {}
  for c in sorted(set(labels)):
    members = [i for i, l in enumerate(labels) if l == c and units[i].emb is not None]
    if members:
      out[c] = _unit_centroid(units, members)
  return out


def name_clusters(units, labels, enrolled, threshold=ENROLL_THRESHOLD):
  """File speakers -> enrolled names: each cluster (labels, as `cluster` gives) takes the name
  of the most similar enrolled centroid ({name: embedding}) if the similarity is at least
  `threshold`, best matches first. Several clusters may take one name (a voice the clustering
  split), unless they hold letters of one chunk. -> {cluster: name}."""
  cents = centroids(units, labels)
  chunks = {}
  for u, c in zip(units, labels):
    chunks.setdefault(c, set()).add(u.chunk)
  pairs = sorted(((float(e @ enrolled[n]), c, n) for c, e in cents.items() for n in enrolled),
                 key=lambda x: -x[0])
  out, taken = {}, {}
  for sim, c, n in pairs:
    if sim < threshold:
      break
    if c in out or chunks[c] & taken.get(n, set()):
      continue
    out[c] = n
    taken[n] = taken.get(n, set()) | chunks[c]
  return out


def anchors(enrolled):
  """{name: centroid} -> one Unit per enrolled voice, all in ANCHOR_CHUNK (so two merge only
  when very alike), for `cluster`. Letters then gather round the voices they sound like, which
  named more of the speech than naming the clusters afterwards (`name_clusters` alone): on
  2-minute conversations of 3 test voices 80.8 / 85.9 / 76.9% -> 81.3 / 87.1 / 78.6% (espeak,
  LibriSpeech, speechocean; MODEL.md)."""
  return [Unit(ANCHOR_CHUNK, ("enrolled", n), ("enrolled", n), e, ANCHOR_SECS)
          for n, e in enrolled.items()]


def name_anchored(units, labels, enrolled, threshold=ENROLL_THRESHOLD):
  """Clusters holding an anchor take its name; the others may take a name as name_clusters
  gives, when they share no chunk with that name's clusters. -> {cluster: name}."""
  out, chunks = {}, {}
  for u, c in zip(units, labels):
    chunks.setdefault(c, set()).add(u.chunk)
    if u.chunk == ANCHOR_CHUNK and c not in out:
      out[c] = u.key[1]
  taken = {}
  for c, n in out.items():
    taken[n] = taken.get(n, set()) | (chunks[c] - {ANCHOR_CHUNK})
  real = [i for i, u in enumerate(units) if u.chunk != ANCHOR_CHUNK]
  rest = name_clusters([units[i] for i in real], [labels[i] for i in real], enrolled, threshold)
  for c, n in rest.items():
    if c not in out and not (chunks[c] & taken.get(n, set())):
      out[c] = n
      taken[n] = taken.get(n, set()) | chunks[c]
  return out


def enrolled_centroids(campp, clips, sr):
  """[(name, clip)] (a name may come several times) -> {name: L2-normalised mean embedding}."""
  sums = {}
  for name, clip in clips:
    e = embed(campp, clip, sr)
    if e is None:
      raise ValueError(f"enrollment clip for {name} has under {MIN_CLIP_SECS} s of speech")
    w = min(len(clip) / sr, CLIP_SECS[-1])
    sums[name] = sums.get(name, 0) + w * e
  return {n: normalised(v) for n, v in sums.items()}
