"""RTTM and UEM files: the diarization interchange formats that scoring tools read.

RTTM: one turn per line, 10 space-separated fields (NIST RT / dscore convention):

  SPEAKER <uri> <chan> <tbeg> <tdur> <NA> <NA> <speaker> <NA> <NA>

UEM (scoring regions): `<uri> <chan> <start> <end>`.

Blank lines and `;;` comments are allowed in both. Other RTTM record types (SPKR-INFO, LEXEME,
...) are skipped; they carry no turns. A malformed line raises FormatError whose message is
`"{path}:{lineno}: {problem}: {line!r}"`, so a user can open the file at the line.

Segments are (start, end, speaker) tuples in seconds; regions are (start, end) tuples.
"""
import glob
import math
import os

from drzjax import files

# Every RTTM record type of the NIST spec; only SPEAKER lines are turns.
RTTM_TYPES = frozenset({"SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX",
                        "NON-SPEECH", "FILLER", "EDIT", "IP", "SU", "CB", "A/P", "SPEAKER",
                        "SPKR-INFO"})


class FormatError(ValueError):
  """A malformed RTTM/UEM file; the message names the file, the line and the problem."""


def _lines(path):
  """Yields (lineno, text, fields) for the non-blank, non-comment lines of a text file."""
  with open(path, "rb") as f:
    data = f.read()
  # Decode line by line so that a bad byte is reported with its line number.
  for lineno, raw in enumerate(data.splitlines(), 1):
    try:
      line = raw.decode("utf-8")
    except UnicodeDecodeError:
      raise FormatError(f"{path}:{lineno}: not UTF-8 text: {_show(raw)}") from None
    fields = line.split()
    if not fields or fields[0].startswith(";;"):
      continue
    yield lineno, line, fields


MAX_SECS = 1e7  # ~115 days: any time beyond is a broken file, not a recording


def _show(line, limit=120):
  """A line for an error message: repr, cut (a binary file's "line" can be kilobytes)."""
  r = repr(line)
  return r if len(r) <= limit else r[:limit] + f"... ({len(line)} characters)"


def _time(path, lineno, line, text, what):
  try:
    t = float(text)
  except ValueError:
    t = math.nan
  if not math.isfinite(t):
    raise FormatError(f"{path}:{lineno}: non-numeric {what} {_show(text, 40)}: {_show(line)}")
  if abs(t) > MAX_SECS:
    raise FormatError(f"{path}:{lineno}: {what} {text} is out of range (more than "
                      f"{MAX_SECS:g} s): {_show(line)}")
  return t


def read_rttm(path):
  """RTTM file -> {uri: [(start, end, speaker), ...]} in file order.

  A file with no SPEAKER line gives {} (see `collect_rttm` for naming such a file's uri).
  """
  out = {}
  for lineno, line, f in _lines(path):
    if len(f) != 10:
      raise FormatError(f"{path}:{lineno}: expected 10 fields, got {len(f)}: {_show(line)}")
    if f[0] not in RTTM_TYPES:
      raise FormatError(f"{path}:{lineno}: unknown RTTM record type {f[0]!r}: {_show(line)}")
    if f[0] != "SPEAKER":
      continue
    tbeg = _time(path, lineno, line, f[3], "onset")
    tdur = _time(path, lineno, line, f[4], "duration")
    if tbeg < 0:
      raise FormatError(f"{path}:{lineno}: negative onset {f[3]}: {_show(line)}")
    if tdur < 0:
      raise FormatError(f"{path}:{lineno}: negative duration {f[4]}: {_show(line)}")
    out.setdefault(f[1], []).append((tbeg, tbeg + tdur, f[7]))
  return out


def read_uem(path):
  """UEM file -> {uri: [(start, end), ...]} in file order (the channel is ignored)."""
  out = {}
  for lineno, line, f in _lines(path):
    if len(f) != 4:
      raise FormatError(f"{path}:{lineno}: expected 4 fields (uri chan start end), "
                        f"got {len(f)}: {_show(line)}")
    start = _time(path, lineno, line, f[2], "start")
    end = _time(path, lineno, line, f[3], "end")
    if start < 0:
      raise FormatError(f"{path}:{lineno}: negative start {f[2]}: {_show(line)}")
    if end < start:
      raise FormatError(f"{path}:{lineno}: negative duration (end {f[3]} < start {f[2]}): "
                        f"{_show(line)}")
    out.setdefault(f[0], []).append((start, end))
  return out


def _check_name(kind, name):
  name = str(name)
  if not name or any(c.isspace() for c in name):
    raise ValueError(f"RTTM {kind} {name!r} must be non-empty and contain no whitespace")
  return name


def format_rttm(uri, segments):
  """Segments -> RTTM text: 10-field lines, millisecond precision, sorted by start/end/name."""
  uri = _check_name("uri", uri)
  rows = []
  for start, end, speaker in segments:
    # Round the ends, not the duration, so that written turns keep touching where they touched.
    s, e = round(float(start), 3), round(float(end), 3)
    if not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e < s:
      raise ValueError(f"bad segment ({start}, {end}, {speaker!r}) for {uri}")
    if e > s:  # a turn shorter than the written precision has nothing to say
      rows.append((s, e, _check_name("speaker name", speaker)))
  rows.sort()
  return "".join(f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
                 for s, e, spk in rows)


def write_rttm(path_or_file, uri, segments):
  """Writes segments as RTTM to an open text file, or atomically to a path.

  No segments (silence) writes an empty file, which `collect_rttm` reads back as that uri.
  """
  text = format_rttm(uri, segments)
  if hasattr(path_or_file, "write"):
    path_or_file.write(text)
    return
  with files.atomic_write(path_or_file) as f:  # a killed write leaves no half RTTM
    f.write(text)


def _collect(path, ext, reader, keep_empty):
  path = os.fspath(path)
  if os.path.isdir(path):
    files = sorted(glob.glob(os.path.join(path, f"*.{ext}")))
    if not files:
      raise FileNotFoundError(f"{path}: no *.{ext} files in this directory")
  elif os.path.exists(path):
    files = [path]
  else:
    raise FileNotFoundError(f"{path}: no such file or directory")
  out = {}
  for name in files:
    got = reader(name)
    if not got and keep_empty:
      # An empty RTTM is a silent recording: its uri is the file name.
      got = {os.path.splitext(os.path.basename(name))[0]: []}
    for uri, items in got.items():
      out.setdefault(uri, []).extend(items)
  return out


def collect_rttm(path):
  """DIR_OR_FILE -> {uri: segments}: one RTTM file, or every *.rttm of a directory.

  An RTTM file without turns stands for its own name (minus .rttm) with no speech, so that
  silent references and silent hypotheses are scored instead of disappearing.
  """
  return _collect(path, "rttm", read_rttm, keep_empty=True)


def collect_uem(path):
  """FILE_OR_DIR -> {uri: regions}: one UEM file, or every *.uem of a directory."""
  return _collect(path, "uem", read_uem, keep_empty=False)
