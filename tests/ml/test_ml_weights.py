"""Weights verification and download, against a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixtools.ml import weights
from pixtools.ml.weights import EXPECTED_SHA256, WeightsError

REPO_ROOT = Path(__file__).resolve().parents[2]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    return folder


@pytest.fixture
def server_url(serve_dir: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(serve_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_shared_weights_verify(weights_path: Path) -> None:
    assert weights.sha256_of(weights_path) == EXPECTED_SHA256
    weights.verify(weights_path)


def test_verify_missing_file_says_how_to_fetch(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "dncnn_color_blind.pth"
    with pytest.raises(WeightsError) as info:
        weights.verify(missing)
    message = str(info.value)
    assert f"not found at {missing}" in message
    assert "flask pixtools model fetch" in message


def test_verify_wrong_sha_names_both_hashes(tmp_path: Path) -> None:
    bad = tmp_path / "dncnn_color_blind.pth"
    bad.write_bytes(b"not the weights")
    with pytest.raises(WeightsError) as info:
        weights.verify(bad)
    message = str(info.value)
    assert weights.sha256_of(bad) in message
    assert EXPECTED_SHA256 in message
    assert "delete the file" in message and "flask pixtools model fetch" in message


def test_fetch_downloads_and_verifies(
    weights_path: Path, serve_dir: Path, server_url: str, tmp_path: Path
) -> None:
    shutil.copyfile(weights_path, serve_dir / "dncnn_color_blind.pth")
    dest = tmp_path / "models" / "dncnn_color_blind.pth"
    result = weights.fetch(dest, f"{server_url}/dncnn_color_blind.pth")
    assert result == dest
    weights.verify(dest)
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]


def test_fetch_wrong_content_leaves_nothing(
    serve_dir: Path, server_url: str, tmp_path: Path
) -> None:
    (serve_dir / "dncnn_color_blind.pth").write_bytes(b"<html>not found</html>" * 100)
    dest_dir = tmp_path / "models"
    dest = dest_dir / "dncnn_color_blind.pth"
    with pytest.raises(WeightsError, match="expected " + EXPECTED_SHA256):
        weights.fetch(dest, f"{server_url}/dncnn_color_blind.pth")
    assert list(dest_dir.iterdir()) == []


def test_fetch_failure_keeps_existing_file(
    serve_dir: Path, server_url: str, tmp_path: Path
) -> None:
    (serve_dir / "dncnn_color_blind.pth").write_bytes(b"wrong")
    dest_dir = tmp_path / "models"
    dest_dir.mkdir()
    dest = dest_dir / "dncnn_color_blind.pth"
    dest.write_bytes(b"previous")
    with pytest.raises(WeightsError):
        weights.fetch(dest, f"{server_url}/dncnn_color_blind.pth")
    assert dest.read_bytes() == b"previous"
    assert [p.name for p in dest_dir.iterdir()] == [dest.name]


def test_fetch_http_error_is_a_weights_error(server_url: str, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "dncnn_color_blind.pth"
    with pytest.raises(WeightsError, match="could not download"):
        weights.fetch(dest, f"{server_url}/absent.pth")
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("module", ["pixtools.ml", "pixtools.ml.weights"])
def test_import_does_not_load_torch(module: str) -> None:
    code = f"import {module}, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


@pytest.mark.parametrize("spec", [weights.FFDNET, weights.FFDNET_CLIP])
def test_fetch_ffdnet_by_its_released_name(spec, ffdnet_weights, serve_dir: Path,
                                           server_url: str, tmp_path: Path) -> None:
    ours, other_kind = ("ffdnet", "ffdnet_clip") if spec is weights.FFDNET else (
        "ffdnet_clip", "ffdnet")
    shutil.copy(ffdnet_weights[ours], serve_dir / spec.filename)
    dest = tmp_path / "models" / spec.filename
    weights.fetch(dest, url=spec.url(server_url), spec=spec)
    weights.verify(dest, spec)
    # The other FFDNet model under this one's name: a wrong sha256, refused, nothing written.
    (serve_dir / "mirror").mkdir()
    shutil.copy(ffdnet_weights[other_kind], serve_dir / "mirror" / spec.filename)
    other = tmp_path / "other" / spec.filename
    with pytest.raises(WeightsError, match=rf"{spec.label} download .* has sha256"):
        weights.fetch(other, url=spec.url(f"{server_url}/mirror"), spec=spec)
    assert not other.exists()
