"""Download and extract the public corpora nanodrz used, for users who have the network.

  python -m drzjax.bank download --corpus=libritts-test-clean --out=DIR

- Resumable: bytes go to `<archive>.part`; a rerun asks the server for the rest (HTTP Range)
  and appends; a server that ignores Range makes it start over.
- Verified: sha256 from the table below (taken from torchaudio's LibriTTS loader) or from
  `--checksum=sha256:HEX|md5:HEX`. Where neither is known, a checksum file the server publishes
  next to the archive (`URL.sha256`, `URL.md5`) is used; failing that the download is kept
  with a logged warning that it was not verified. A mismatch deletes the `.part` file (a rerun
  downloads afresh) and is an error.
- Extracted with tarfile's 'data' filter (no absolute paths, no links out of DIR); a marker
  file `.done-<archive>` makes a rerun a no-op; the archive is deleted after extraction unless
  keep_archive.
- Mirrors: `--url` replaces the whole URL, `--base-url` (or DRZJAX_DOWNLOAD_BASE_URL) replaces
  everything before the archive's file name (the table's checksum still applies to the latter).
- Offline / HTTP errors: DownloadError naming the URL and the error.
"""
import dataclasses
import hashlib
import os
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

BASE_URL_ENV = "DRZJAX_DOWNLOAD_BASE_URL"


@dataclasses.dataclass(frozen=True)
class Corpus:
  url: str
  checksum: str | None   # "sha256:HEX" / "md5:HEX", or None where not reliably known
  subdir: str            # where the audio lands inside DIR
  layout: str            # for `python -m drzjax.bank build --layout`


CORPORA = {
    "libritts-test-clean": Corpus(
        "https://www.openslr.org/resources/60/test-clean.tar.gz",
        "sha256:234ea5b25859102a87024a4b9b86641f5b5aaaf1197335c95090cde04fe9a4f5",
        "LibriTTS/test-clean", "libritts"),
    "libritts-dev-clean": Corpus(
        "https://www.openslr.org/resources/60/dev-clean.tar.gz",
        "sha256:da0864e1bd26debed35da8a869dd5c04dfc27682921936de7cff9c8a254dbe1a",
        "LibriTTS/dev-clean", "libritts"),
    # Libri-Light small (577 h): no checksum published that we could check.
    "librilight-small": Corpus(
        "https://dl.fbaipublicfiles.com/librilight/data/small.tar", None, "small", "librispeech"),
}


class DownloadError(Exception):
  """A download that failed; the message names the URL or file and the problem."""


def _log(msg):
  print(f"download: {msg}", file=sys.stderr, flush=True)


def _fmt_bytes(n):
  for unit in ("B", "KB", "MB", "GB"):
    if n < 1024 or unit == "GB":
      return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
    n /= 1024


def _parse_checksum(checksum):
  if checksum is None:
    return None
  algo, _, hexd = checksum.partition(":")
  if algo not in ("sha256", "md5") or not hexd:
    raise DownloadError(f"checksum {checksum!r}: expected sha256:HEX or md5:HEX")
  return algo, hexd.strip().lower()


def _server_checksum(url, timeout):
  """A checksum the server publishes beside the archive, or None."""
  for algo in ("sha256", "md5"):
    try:
      with urllib.request.urlopen(f"{url}.{algo}", timeout=timeout) as r:
        text = r.read(4096).decode("ascii", "replace").split()
    except (urllib.error.URLError, OSError, ValueError):
      continue
    if text and len(text[0]) == {"sha256": 64, "md5": 32}[algo]:
      return algo, text[0].lower()
  return None


def fetch(url, dest, timeout=30.0, log=_log):
  """Download `url` to `dest` via `dest.part`, resuming a partial `.part`. Returns dest."""
  part = dest + ".part"
  have = os.path.getsize(part) if os.path.exists(part) else 0
  req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
  try:
    r = urllib.request.urlopen(req, timeout=timeout)
  except urllib.error.HTTPError as e:
    if e.code == 416 and have:  # nothing left to send: the .part is already whole
      os.replace(part, dest)
      return dest
    raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
  except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    raise DownloadError(f"cannot download {url}: {reason} (offline? use --url/--base-url "
                        "for a mirror)") from None
  with r:
    if have and r.status == 206:
      log(f"resuming {os.path.basename(dest)} at {_fmt_bytes(have)}")
      mode = "ab"
    else:
      have, mode = 0, "wb"  # no Range support (200): start over
    length = r.headers.get("Content-Length")
    total = have + int(length) if length and length.isdigit() else None
    done, t0, shown = have, time.time(), 0.0
    tty = sys.stderr.isatty()
    try:
      with open(part, mode) as f:
        while True:
          block = r.read(1 << 20)
          if not block:
            break
          f.write(block)
          done += len(block)
          now = time.time()
          if now - shown >= (0.5 if tty else 10.0):
            shown = now
            rate = (done - have) / max(now - t0, 1e-6)
            eta = f"  ETA {(total - done) / rate:.0f} s" if total and rate > 0 else ""
            of = f"/{_fmt_bytes(total)}" if total else ""
            cr, nl = ("\r", "") if tty else ("", "\n")
            print(f"{cr}download: {_fmt_bytes(done)}{of}  {_fmt_bytes(rate)}/s{eta}", end=nl,
                  file=sys.stderr, flush=True)
    except (urllib.error.URLError, OSError) as e:
      raise DownloadError(f"download of {url} interrupted after {_fmt_bytes(done)} ({e}); "
                          "rerun to resume") from None
    if tty and shown:
      print(file=sys.stderr)
  if total is not None and done != total:
    raise DownloadError(f"download of {url} stopped at {done} of {total} bytes; rerun to resume")
  os.replace(part, dest)
  return dest


def file_digest(path, algo):
  h = hashlib.new(algo)
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def download(corpus=None, out=".", url=None, checksum=None, base_url=None, keep_archive=False,
             timeout=30.0, log=_log):
  """Download, verify and extract a corpus into `out`. Returns the directory of its audio.

  `corpus` names a CORPORA entry; or give `url` (and optionally `checksum`) for any tar archive.
  """
  if corpus is None and url is None:
    raise DownloadError(f"say which corpus ({', '.join(CORPORA)}) or give a URL")
  entry = None
  if corpus is not None:
    if corpus not in CORPORA:
      raise DownloadError(f"unknown corpus {corpus!r}: choose from {', '.join(CORPORA)}")
    entry = CORPORA[corpus]
  base_url = base_url or os.environ.get(BASE_URL_ENV) or None
  if url is None:
    url = entry.url
    if base_url:
      url = base_url.rstrip("/") + "/" + entry.url.rsplit("/", 1)[1]
  elif checksum is None:
    entry = entry and dataclasses.replace(entry, checksum=None)  # the table's is for its own URL
  if urllib.parse.urlparse(url).scheme not in ("http", "https", "ftp", "file"):
    raise DownloadError(f"--url {url}: not a URL (expected http://, https://, ftp:// or file://)")
  want = _parse_checksum(checksum) or _parse_checksum(entry.checksum if entry else None)

  out = os.path.abspath(os.path.expanduser(out))
  name = url.rstrip("/").rsplit("/", 1)[-1] or "archive"
  target = os.path.join(out, entry.subdir) if entry else out
  marker = os.path.join(out, f".done-{name}")
  if os.path.exists(marker):
    log(f"{name} already downloaded and extracted into {out}")
    return target
  try:
    os.makedirs(out, exist_ok=True)
  except OSError as e:
    raise DownloadError(f"{out}: cannot create the output directory ({e})") from None
  archive = os.path.join(out, name)
  if not os.path.exists(archive):
    log(f"fetching {url} -> {archive}")
    fetch(url, archive, timeout=timeout, log=log)
  if want is None:
    want = _server_checksum(url, timeout)
  if want is None:
    log(f"warning: no checksum known for {url}; the download is not verified")
  else:
    algo, hexd = want
    got = file_digest(archive, algo)
    if got != hexd:
      os.remove(archive)
      raise DownloadError(f"{archive}: {algo} checksum mismatch (expected {hexd}, got {got}); "
                          "the file was deleted, rerun to download it again")
    log(f"{algo} verified")
  log(f"extracting {name} into {out}")
  try:
    with tarfile.open(archive) as tar:
      tar.extractall(out, filter="data")
  except (tarfile.TarError, OSError, EOFError) as e:
    raise DownloadError(f"{archive}: cannot extract ({e}); delete it and rerun") from None
  with open(marker, "w") as f:
    f.write(url + "\n")
  if not keep_archive:
    os.remove(archive)
  return target
