"""data/download.py without the internet: a small PetImages zip with broken members, from 127.0.0.1 or a path."""
import io
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.images import build_cache, find_images
from models.images.download import DownloadError, as_url, download, download_and_extract, main


def jpeg_bytes(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pets_zip(tmp_path_factory):
    """PetImages/{Cat,Dog} with 3 good JPEGs each, the Microsoft archive's kinds of junk, and two bad members."""
    path = tmp_path_factory.mktemp("archive") / "kagglecatsanddogs_5340.zip"
    good_crc_victim = b"this member's data is corrupted after writing" * 4
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(3):
            archive.writestr(f"PetImages/Cat/{i}.jpg", jpeg_bytes(i))
            archive.writestr(f"PetImages/Dog/{i}.jpg", jpeg_bytes(10 + i))
        archive.writestr("PetImages/Cat/666.jpg", b"")  # zero-byte, as in the real archive
        archive.writestr("PetImages/Cat/Thumbs.db", b"\xd0\xcf\x11\xe0 not an image")
        archive.writestr("PetImages/Dog/11702.jpg", jpeg_bytes(99)[:200])  # truncated JPEG
        archive.writestr("readme[1].txt", b"Cats and dogs")
        archive.writestr("PetImages/Dog/bad_crc.jpg", good_crc_victim)
        archive.writestr("../escape.txt", b"zip slip")
    data = bytearray(path.read_bytes())
    start = data.index(good_crc_victim)
    data[start] ^= 0xFF  # the central directory still lists the member, but its CRC check now fails
    path.write_bytes(bytes(data))
    return path


class ArchiveServer(ThreadingHTTPServer):
    """Serves one payload at any path; honours `Range: bytes=N-` unless told not to; can cut the connection."""

    def __init__(self, payload):
        super().__init__(("127.0.0.1", 0), ArchiveHandler)
        self.payload = payload
        self.honour_range = True
        self.cut_after = None  # send only this many bytes, then hang up
        self.range_headers = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/kagglecatsanddogs_5340.zip"


class ArchiveHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        server, payload = self.server, self.server.payload
        requested = self.headers.get("Range")
        server.range_headers.append(requested)
        start = int(requested.split("=")[1].rstrip("-")) if requested and server.honour_range else 0
        if start >= len(payload) and requested:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(payload) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        self.end_headers()
        body = payload[start:]
        if server.cut_after is not None:
            body = body[:server.cut_after]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server(pets_zip, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # 127.0.0.1 must be reached directly, never through a proxy
    httpd = ArchiveServer(pets_zip.read_bytes())
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_over_http_extracts_and_skips_broken_members(server, tmp_path, pets_zip):
    dest, skipped = download_and_extract(tmp_path / "pets", url=server.url, progress=False)
    pets = dest / "PetImages"
    assert sorted(p.name for p in (pets / "Cat").iterdir()) == ["0.jpg", "1.jpg", "2.jpg", "Thumbs.db"]
    assert (pets / "Dog" / "11702.jpg").exists()  # unpacks fine; the loader skips it (test below)
    assert (dest / "kagglecatsanddogs_5340.zip").read_bytes() == pets_zip.read_bytes()
    reasons = dict(skipped)
    assert reasons["PetImages/Cat/666.jpg"] == "empty file"
    assert "corrupt" in reasons["PetImages/Dog/bad_crc.jpg"]
    assert "unsafe" in reasons["../escape.txt"]
    assert not (tmp_path / "escape.txt").exists()
    leftovers = [p.name for p in dest.iterdir() if p.name.endswith(".part") or p.name.startswith(".extracting")]
    assert leftovers == []

    # the loader takes it from there: Microsoft's layout, Thumbs.db ignored, the truncated JPEG skipped
    folder = find_images(dest)
    assert folder.layout == "petimages" and folder.classes == ["cat", "dog"]
    assert [reason for _, reason in folder.ignored] == ["not an image file name"]
    with pytest.warns(UserWarning, match="skipped 1 of 7"):
        cache = build_cache(folder.paths, 16, tmp_path / "cache", progress=False)
    assert len(cache.images) == 6 and cache.skipped[0][0].endswith("11702.jpg")


def test_second_run_is_a_no_op(server, tmp_path):
    download_and_extract(tmp_path, url=server.url, progress=False)
    requests_before = len(server.range_headers)
    download_and_extract(tmp_path, url=server.url, progress=False)
    assert len(server.range_headers) == requests_before


def test_resume_from_a_partial_part_file(server, tmp_path, pets_zip):
    payload = pets_zip.read_bytes()
    archive = tmp_path / "kagglecatsanddogs_5340.zip"
    (tmp_path / "kagglecatsanddogs_5340.zip.part").write_bytes(payload[:1000])
    download(server.url, archive, progress=False)
    assert server.range_headers == ["bytes=1000-"]
    assert archive.read_bytes() == payload


def test_server_ignoring_range_restarts_cleanly(server, tmp_path, pets_zip):
    server.honour_range = False
    archive = tmp_path / "kagglecatsanddogs_5340.zip"
    (tmp_path / "kagglecatsanddogs_5340.zip.part").write_bytes(b"x" * 1000)  # would corrupt the file if appended to
    download(server.url, archive, progress=False)
    assert archive.read_bytes() == pets_zip.read_bytes()


def test_cut_connection_is_reported_then_resumed(server, tmp_path, pets_zip):
    payload = pets_zip.read_bytes()
    archive = tmp_path / "kagglecatsanddogs_5340.zip"
    server.cut_after = 1500
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(server.url, archive, progress=False)
    assert not archive.exists()
    assert (tmp_path / "kagglecatsanddogs_5340.zip.part").stat().st_size == 1500
    server.cut_after = None
    download(server.url, archive, progress=False)
    assert server.range_headers[-1] == "bytes=1500-"
    assert archive.read_bytes() == payload


def test_wrong_size_is_refused(server, tmp_path):
    with pytest.raises(DownloadError, match="expected about"):
        download(server.url, tmp_path / "a.zip", expected_size=10_000_000, progress=False)
    assert not (tmp_path / "a.zip").exists() and not (tmp_path / "a.zip.part").exists()


@pytest.mark.parametrize("as_uri", [False, True])
def test_local_path_or_file_url(pets_zip, tmp_path, as_uri):
    url = pets_zip.as_uri() if as_uri else str(pets_zip)
    dest, skipped = download_and_extract(tmp_path, url=url, progress=False)
    assert len(list((dest / "PetImages" / "Dog").glob("*.jpg"))) == 4
    assert len(skipped) == 3
    assert not (tmp_path / pets_zip.name).exists()  # unpacked in place, not copied
    assert as_url(str(pets_zip)) == pets_zip.as_uri()


def closed_port_url():
    with socket.socket() as probe:  # bind to a free port, then close it: nothing listens there any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/kagglecatsanddogs_5340.zip"


def test_offline_message_says_how_to_pass_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    url = closed_port_url()
    with pytest.raises(DownloadError, match="--data DIR"):
        download_and_extract(tmp_path, url=url, progress=False)
    assert main(["--dest", str(tmp_path), "--url", url, "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "could not reach" in error and "--data DIR" in error and "--url" in error


def test_the_command_line_script(pets_zip, tmp_path):
    script = Path(__file__).resolve().parents[1] / "data" / "download.py"
    done = subprocess.run([sys.executable, str(script), "--dest", str(tmp_path), "--url", str(pets_zip), "--quiet"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "train with --data" in done.stdout and "skipped 3 broken archive members" in done.stderr
    assert (tmp_path / "PetImages" / "Cat" / "0.jpg").exists()


def test_broken_archive_file_is_reported(tmp_path):
    not_a_zip = tmp_path / "fake.zip"
    not_a_zip.write_bytes(b"<html>Service unavailable</html>")
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_and_extract(tmp_path / "out", url=str(not_a_zip), progress=False)
    with pytest.raises(DownloadError, match="archive not found"):
        download_and_extract(tmp_path / "out", url=str(tmp_path / "missing.zip"), progress=False)
