"""Locate, verify and fetch the denoise weights: DnCNN colour blind and the two FFDNet
colour models (no torch import here). Each file is known by its sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

EXPECTED_SHA256 = "dfe11a6b703304df82cdf236f431fc6492766c7b9119d97e943edeb392c710a3"
# KAIR's release v1.0 holds every model file under its own name.
UPSTREAM_BASE_URL = "https://github.com/cszn/KAIR/releases/download/v1.0"
UPSTREAM_URL = f"{UPSTREAM_BASE_URL}/dncnn_color_blind.pth"
DEFAULT_WEIGHTS_PATH = Path("models/dncnn_color_blind.pth")
FETCH_HINT = "run `flask pixtools model fetch`"

# The real file is 2.6 MB; refuse to write more than this if a URL serves
# something else (an HTML page, a huge file) rather than filling the disk.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


class WeightsError(Exception):
    """The weights file is missing, corrupt or could not be downloaded."""


@dataclass(frozen=True)
class WeightsSpec:
    """One released weights file: its display name, file name and accepted sha256s."""

    label: str
    filename: str
    sha256s: tuple[str, ...]

    @property
    def sha256(self) -> str:
        """The sha256 of the released file (the first accepted one)."""
        return self.sha256s[0]

    def url(self, base_url: str = UPSTREAM_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.filename}"


DNCNN = WeightsSpec("DnCNN", "dncnn_color_blind.pth", (EXPECTED_SHA256,))
# FFDNet: KAIR's release file first, then a conversion of the authors' MatConvNet release
# (the same tensors, bit for bit, serialised by a newer torch: docs/denoise.md).
FFDNET = WeightsSpec("FFDNet", "ffdnet_color.pth", (
    "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279",
    "3baf5f3886b46eb1784b1d12712e009be75417c306c8faa0e7ef7db31a544a1d",
))
FFDNET_CLIP = WeightsSpec("FFDNet-clip", "ffdnet_color_clip.pth", (
    "99a5081e32afdaa25df3ded11aa16447556692e550906caed320db31324af5ce",
    "80133a9afc64a677beded469f5f62d7aebe0bf15fd2a3713bfeda78deda1819f",
))
ALL = (DNCNN, FFDNET, FFDNET_CLIP)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | os.PathLike[str], spec: WeightsSpec = DNCNN) -> None:
    """Raise WeightsError unless ``path`` is the weights file ``spec`` describes."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{spec.label} weights not found at {p}: {FETCH_HINT}")
    actual = sha256_of(p)
    if actual not in spec.sha256s:
        raise WeightsError(
            f"{spec.label} weights at {p} have sha256 {actual}, expected {_expected(spec)}: "
            f"delete the file and {FETCH_HINT}"
        )


def _expected(spec: WeightsSpec) -> str:
    return " or ".join(spec.sha256s)


def fetch(dest: Path, url: str = UPSTREAM_URL, timeout: float = 60.0,
          spec: WeightsSpec = DNCNN) -> Path:
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
        with os.fdopen(fd, "wb") as out:
            actual = _download(url, out, timeout, spec, dest)
            out.flush()
            os.fsync(out.fileno())
        if actual not in spec.sha256s:
            raise WeightsError(
                f"{spec.label} download from {url} has sha256 {actual}, "
                f"expected {_expected(spec)}; "
                f"nothing was written to {dest}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _download(url: str, out: BinaryIO, timeout: float, spec: WeightsSpec, dest: Path) -> str:
    """Copy ``url`` into ``out`` (at most MAX_DOWNLOAD_BYTES); return its sha256."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise WeightsError(
                        f"download from {url} exceeds {MAX_DOWNLOAD_BYTES} bytes; "
                        f"it is not the {spec.label} weights file"
                    )
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise WeightsError(
            f"could not download {spec.label} weights from {url}: {exc}; check the network "
            f"or copy the file to {dest} by hand"
        ) from exc
    return digest.hexdigest()
