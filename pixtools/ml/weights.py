"""Locate, verify and fetch the DnCNN colour blind weights (no torch import here)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

EXPECTED_SHA256 = "dfe11a6b703304df82cdf236f431fc6492766c7b9119d97e943edeb392c710a3"
UPSTREAM_URL = "https://github.com/cszn/KAIR/releases/download/v1.0/dncnn_color_blind.pth"
DEFAULT_WEIGHTS_PATH = Path("models/dncnn_color_blind.pth")
FETCH_HINT = "run `flask pixtools model fetch`"

# The real file is 2.6 MB; refuse to write more than this if a URL serves
# something else (an HTML page, a huge file) rather than filling the disk.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


class WeightsError(Exception):
    """The weights file is missing, corrupt or could not be downloaded."""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | os.PathLike[str]) -> None:
    """Raise WeightsError unless ``path`` is the expected weights file."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"DnCNN weights not found at {p}: {FETCH_HINT}")
    actual = sha256_of(p)
    if actual != EXPECTED_SHA256:
        raise WeightsError(
            f"DnCNN weights at {p} have sha256 {actual}, expected {EXPECTED_SHA256}: "
            f"delete the file and {FETCH_HINT}"
        )


def fetch(dest: Path, url: str = UPSTREAM_URL, timeout: float = 60.0) -> Path:
    """Download the weights to ``dest``, verified, replacing it atomically.

    The download goes to a temporary file in the destination folder so the
    final rename is atomic (same filesystem) and a reader never sees a
    partial file; the temporary file is removed on any failure.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    while chunk := resp.read(_CHUNK):
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise WeightsError(
                                f"download from {url} exceeds {MAX_DOWNLOAD_BYTES} bytes; "
                                "it is not the DnCNN weights file"
                            )
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                raise WeightsError(
                    f"could not download DnCNN weights from {url}: {exc}; check the network "
                    f"or copy the file to {dest} by hand"
                ) from exc
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != EXPECTED_SHA256:
            raise WeightsError(
                f"download from {url} has sha256 {actual}, expected {EXPECTED_SHA256}; "
                f"nothing was written to {dest}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
