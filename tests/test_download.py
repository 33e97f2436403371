"""Corpus download: a real HTTP server on localhost serving a tar.gz the test makes."""
import hashlib
import http.server
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading

import pytest

from drzjax.data import download as dl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves server.files (name -> bytes) with HTTP Range support, and logs the requests."""

  def do_GET(self):  # noqa: N802
    srv = self.server
    name = self.path.lstrip("/")
    srv.requests.append((name, self.headers.get("Range")))
    if name not in srv.files:
      self.send_error(404)
      return
    body = srv.files[name]
    rng = self.headers.get("Range")
    if rng and srv.ranges:
      start = int(rng.split("=")[1].split("-")[0])
      if start >= len(body):
        self.send_response(416)
        self.send_header("Content-Range", f"bytes */{len(body)}")
        self.end_headers()
        return
      self.send_response(206)
      self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
      body = body[start:]
    else:
      self.send_response(200)
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    # Counted before the write: the client can finish reading before this thread runs again.
    srv.sent += len(body)
    self.wfile.write(body)

  def log_message(self, *args):
    pass


@pytest.fixture
def server():
  srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  srv.files, srv.requests, srv.sent, srv.ranges = {}, [], 0, True
  threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
  srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
  yield srv
  srv.shutdown()
  srv.server_close()


def make_tar(files):
  buf = io.BytesIO()
  with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return buf.getvalue()


@pytest.fixture
def archive():
  # Incompressible-ish content so the archive is big enough to cut in half meaningfully.
  payload = {"corpus/spk1/a.wav": os.urandom(50_000), "corpus/spk2/b.wav": b"x" * 1000}
  data = make_tar(payload)
  return data, hashlib.sha256(data).hexdigest(), payload


def quiet(msg):
  quiet.lines.append(msg)


quiet.lines = []


def test_download_verify_extract(server, archive, tmp_path):
  data, sha, payload = archive
  server.files["c.tar.gz"] = data
  out = tmp_path / "out"
  dl.download(url=f"{server.url}/c.tar.gz", out=str(out), checksum=f"sha256:{sha}", log=quiet)
  for name, content in payload.items():
    assert (out / name).read_bytes() == content
  assert not (out / "c.tar.gz").exists() and not (out / "c.tar.gz.part").exists()
  assert (out / ".done-c.tar.gz").exists()
  n = len(server.requests)
  dl.download(url=f"{server.url}/c.tar.gz", out=str(out), checksum=f"sha256:{sha}", log=quiet)
  assert len(server.requests) == n  # a rerun does nothing


def test_resume_from_part(server, archive, tmp_path):
  data, sha, payload = archive
  server.files["c.tar.gz"] = data
  out = tmp_path / "out"
  out.mkdir()
  half = len(data) // 2
  (out / "c.tar.gz.part").write_bytes(data[:half])
  lines = []
  dl.download(url=f"{server.url}/c.tar.gz", out=str(out), checksum=f"sha256:{sha}",
              log=lines.append)
  assert server.requests == [("c.tar.gz", f"bytes={half}-")]
  assert server.sent == len(data) - half         # only the rest came over the wire
  assert any("resuming" in ln for ln in lines)
  assert (out / "corpus/spk1/a.wav").read_bytes() == payload["corpus/spk1/a.wav"]


def test_server_without_range_restarts(server, archive, tmp_path):
  data, sha, _ = archive
  server.files["c.tar.gz"], server.ranges = data, False
  out = tmp_path / "out"
  out.mkdir()
  (out / "c.tar.gz.part").write_bytes(b"garbage that must not be kept")
  dl.download(url=f"{server.url}/c.tar.gz", out=str(out), checksum=f"sha256:{sha}", log=quiet)
  assert (out / "corpus/spk2/b.wav").exists()


def test_complete_part_and_server_checksum_file(server, archive, tmp_path):
  data, sha, _ = archive
  server.files["c.tar.gz"] = data
  server.files["c.tar.gz.sha256"] = f"{sha}  c.tar.gz\n".encode()
  out = tmp_path / "out"
  out.mkdir()
  (out / "c.tar.gz.part").write_bytes(data)      # all there: the server answers 416
  lines = []
  dl.download(url=f"{server.url}/c.tar.gz", out=str(out), log=lines.append)
  assert any("sha256 verified" in ln for ln in lines)
  assert (out / "corpus/spk2/b.wav").exists()


def test_bad_checksum(server, archive, tmp_path):
  data, _, _ = archive
  server.files["c.tar.gz"] = data
  out = tmp_path / "out"
  with pytest.raises(dl.DownloadError, match="sha256 checksum mismatch"):
    dl.download(url=f"{server.url}/c.tar.gz", out=str(out), checksum="sha256:" + "0" * 64,
                log=quiet)
  assert os.listdir(out) == []  # nothing extracted, the bad file deleted, no marker


def test_table_checksum_applies_to_mirrors(server, archive, tmp_path, monkeypatch):
  """--base-url fetches the table's file name from a mirror and checks the table's sha256:
  this archive is not LibriTTS test-clean, so it must be refused."""
  data, _, _ = archive
  server.files["test-clean.tar.gz"] = data
  monkeypatch.setenv(dl.BASE_URL_ENV, server.url)
  with pytest.raises(dl.DownloadError, match="checksum mismatch"):
    dl.download("libritts-test-clean", out=str(tmp_path / "o"), log=quiet)
  assert server.requests[0][0] == "test-clean.tar.gz"


def _closed_port():
  s = socket.socket()
  s.bind(("127.0.0.1", 0))
  port = s.getsockname()[1]
  s.close()
  return port


def test_unreachable_url(tmp_path):
  url = f"http://127.0.0.1:{_closed_port()}/c.tar.gz"
  with pytest.raises(dl.DownloadError) as e:
    dl.download(url=url, out=str(tmp_path / "o"), log=quiet, timeout=5)
  assert url in str(e.value)


@pytest.mark.parametrize("url", ["notaurl", "www.example.com/c.tar.gz", "gopher://x/c.tgz"])
def test_not_a_url(tmp_path, url):
  """Caught before anything is created or fetched, with the flag and value named."""
  with pytest.raises(dl.DownloadError, match=f"--url {url}: not a URL"):
    dl.download(url=url, out=str(tmp_path / "o"), log=quiet)
  assert not (tmp_path / "o").exists()


def test_cli_errors(server, archive, tmp_path):
  url = f"http://127.0.0.1:{_closed_port()}/c.tar.gz"
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "download", f"--url={url}",
                      f"--out={tmp_path / 'o'}"], cwd=ROOT, capture_output=True, text=True,
                     timeout=60)
  assert r.returncode == 1 and url in r.stderr and "cannot download" in r.stderr
  assert "Traceback" not in r.stderr
  server.files["c.tar.gz"] = archive[0]
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "download",
                      f"--url={server.url}/c.tar.gz", f"--out={tmp_path / 'o'}",
                      "--checksum=md5:" + "0" * 32], cwd=ROOT, capture_output=True,
                     text=True, timeout=60)
  assert r.returncode == 1 and "md5 checksum mismatch" in r.stderr, r.stderr
  assert "Traceback" not in r.stderr
  r = subprocess.run([sys.executable, "-m", "drzjax.bank", "download",
                      f"--url={server.url}/c.tar.gz", f"--out={tmp_path / 'o'}",
                      f"--checksum=sha256:{archive[1]}"], cwd=ROOT, capture_output=True,
                     text=True, timeout=60)
  assert r.returncode == 0, r.stderr
  assert "python -m drzjax.bank build" in r.stderr
  assert (tmp_path / "o" / "corpus" / "spk1" / "a.wav").exists()
