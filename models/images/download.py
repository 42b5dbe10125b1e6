"""Download Microsoft's cats-and-dogs archive and unpack it into <dest>/PetImages/{Cat,Dog}, safely.

    python data/download.py [--dest data/dogs-vs-cats] [--url URL_OR_PATH]

Why each step:
- stream into `<archive>.part` in 1 MiB chunks with a progress bar: the archive is 786 MB, it must not sit in memory;
- resume: a .part left by an interrupted try is continued, asking the server only for the missing bytes (HTTP Range);
- size check: a cut connection or a proxy's error page otherwise looks like a download that worked;
- extract into a temporary folder, then rename it into place: a half-extracted PetImages never looks finished;
- skip (and list) members that fail their CRC check, are empty, or would land outside the destination ("zip slip").
Files that unpack fine but are not images (Thumbs.db, a few broken JPEGs) are left to the loader, which skips them.
"""
import argparse
import http.client
import os
import shutil
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, url2pathname, urlopen

from tqdm import tqdm

from .folders import DEFAULT_DATA_DIR

URL = "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
EXPECTED_SIZE = 824_887_076  # bytes ("786.67M"), as Microsoft has served it since 2022
SIZE_TOLERANCE = 0.02  # a re-packed archive may differ a little; an HTML error page or a cut download is far off
CHUNK_BYTES = 1 << 20


class DownloadError(RuntimeError):
    """The archive could not be fetched or unpacked; the message says what to do."""


def download_and_extract(dest=DEFAULT_DATA_DIR, url=URL, progress=True):
    """Fetch the archive at `url` into `dest` (unless there) and unpack it there. Returns (dest, skipped members)."""
    dest = Path(dest).expanduser()
    if (dest / "PetImages").is_dir():
        print(f"{dest / 'PetImages'} already exists: nothing to do (delete it to download again)")
        return dest, []
    dest.mkdir(parents=True, exist_ok=True)
    url = as_url(url)
    if url.startswith("file://"):  # an archive already on this machine is unpacked in place, not copied
        archive = Path(url2pathname(urlparse(url).path))
    else:
        archive = dest / PurePosixPath(urlparse(url).path).name
        if not archive.exists():
            download(url, archive, expected_size=EXPECTED_SIZE if url == URL else None, progress=progress)
    skipped = extract(archive, dest, progress=progress)
    if skipped:
        print(f"skipped {len(skipped)} broken archive members:", file=sys.stderr)
        for name, reason in skipped:
            print(f"  {name}: {reason}", file=sys.stderr)
    return dest, skipped


def as_url(url_or_path):
    """A URL as given, or a local file path turned into a file:// URL."""
    if "://" in str(url_or_path):
        return str(url_or_path)
    return Path(url_or_path).expanduser().resolve().as_uri()


def download(url, archive, expected_size=None, progress=True):
    """Stream `url` into `archive`, resuming from `archive`.part when one is there; check the size; rename."""
    archive = Path(archive)
    part = archive.with_name(archive.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"User-Agent": "tinygrad_bn-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urlopen(request, timeout=60)
    except HTTPError as error:
        if error.code == 416 and have:  # "range not satisfiable": the .part already holds the whole file
            _check_size(part, have, expected_size)
            os.replace(part, archive)
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (URLError, TimeoutError) as error:
        raise DownloadError(_offline_message(url, error)) from None

    with response:
        resumed = have > 0 and response.status == 206  # a server that ignores Range sends everything again: 200
        if not resumed:
            have = 0
        total = _total_size(response, have)
        if total is not None:
            _check_size(part, total, expected_size)
        with open(part, "ab" if resumed else "wb") as file, \
                tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=archive.name, disable=not progress) as bar:
            try:
                while chunk := response.read(CHUNK_BYTES):
                    file.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as error:
                raise DownloadError(f"the connection broke after {file.tell()} bytes ({error}); "
                                    f"run the same command again to resume") from None

    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"download incomplete: {size} of {total} bytes; run the same command again to resume")
    _check_size(part, size, expected_size)
    os.replace(part, archive)


def _total_size(response, have):
    """The full file size: from Content-Range ("bytes 100-199/200") on a resumed reply, else Content-Length."""
    content_range = response.headers.get("Content-Range", "")
    if content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return have + int(length) if length else None


def _check_size(part, size, expected_size):
    if expected_size and abs(size - expected_size) > SIZE_TOLERANCE * expected_size:
        part.unlink(missing_ok=True)
        raise DownloadError(f"the archive is {size} bytes, expected about {expected_size}: not the file we expect "
                            f"(an error page?). Check the URL, or pass --url PATH to a copy you have.")


def _offline_message(url, error):
    reason = getattr(error, "reason", error)
    return (f"could not reach {url} ({reason}). If this machine is offline, either fetch "
            f"kagglecatsanddogs_5340.zip elsewhere and pass it with --url /path/to/kagglecatsanddogs_5340.zip, "
            f"or train on images you already have with --data DIR (any layout in data/README.md).")


def extract(archive, dest, progress=True):
    """Unpack `archive` into `dest` via a temporary folder; returns [(member, reason)] for members skipped."""
    try:
        zip_file = zipfile.ZipFile(archive)
    except FileNotFoundError:
        raise DownloadError(f"archive not found: {archive}") from None
    except zipfile.BadZipFile:
        raise DownloadError(f"{archive} is not a valid zip archive: delete it and run again") from None
    dest = Path(dest)
    skipped = []
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=dest))
    try:
        with zip_file:
            for member in tqdm(zip_file.infolist(), desc="extracting", unit="file", disable=not progress):
                if member.is_dir():
                    continue
                reason = _member_problem(member) or _extract_member(zip_file, member, staging)
                if reason:
                    skipped.append((member.filename, reason))
        entries = sorted(staging.iterdir())
        for entry in entries:
            if (dest / entry.name).is_dir():
                raise DownloadError(f"{dest / entry.name} already exists: move it away and run again")
        for entry in entries:
            os.replace(entry, dest / entry.name)  # one rename per top-level entry (PetImages): atomic
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return skipped


def _member_problem(member):
    """Why a member must not be extracted, or None."""
    parts = PurePosixPath(member.filename.replace("\\", "/")).parts
    if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        return "unsafe path (would be written outside the destination)"
    if member.file_size == 0:
        return "empty file"
    return None


def _extract_member(zip_file, member, staging):
    """Copy one member into `staging`; a reason string if its data is corrupt (bad CRC, bad deflate stream)."""
    target = staging / member.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zip_file.open(member) as source, open(target, "wb") as output:
            shutil.copyfileobj(source, output, CHUNK_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        target.unlink(missing_ok=True)
        return f"corrupt member: {error}"
    return None


def main(argv=None, default_dest=DEFAULT_DATA_DIR):
    parser = argparse.ArgumentParser(description="Download and unpack Microsoft's cats-and-dogs images "
                                                 "(kagglecatsanddogs_5340.zip, about 786 MB).")
    parser.add_argument("--dest", default=str(default_dest), help="folder to unpack into (default: %(default)s)")
    parser.add_argument("--url", default=URL, help="http(s) or file:// URL, or a local path to the zip")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        dest, _ = download_and_extract(args.dest, args.url, progress=not args.quiet)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done: the images are in {dest}; train with --data {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
