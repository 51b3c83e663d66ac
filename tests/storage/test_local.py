"""Local storage: files written in pieces come back whole, and a write never shows half."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixtools.storage import StorageError
from pixtools.storage.local import WRITE_PIECE_BYTES, LocalStorage

PIECE = WRITE_PIECE_BYTES


@pytest.mark.parametrize("size", [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 17])
def test_a_file_written_in_pieces_reads_back_exactly(tmp_path: Path, size: int) -> None:
    storage = LocalStorage(tmp_path, secret_key="test")
    data = os.urandom(size)
    storage.put("jobs/a/source", data, "application/octet-stream")
    assert storage.get("jobs/a/source") == data
    assert (tmp_path / "jobs/a/source").stat().st_size == size
    # Only the file itself is left: the temporary name it was written under is gone.
    assert [p.name for p in (tmp_path / "jobs/a").iterdir()] == ["source"]


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, secret_key="test")
    with pytest.raises(TypeError):  # text, not bytes: the write fails after the file is made
        storage.put("jobs/b/source", "not bytes", "x")  # type: ignore[arg-type]
    assert list((tmp_path / "jobs/b").iterdir()) == []
    with pytest.raises(StorageError):
        storage.get("jobs/b/source")


@pytest.mark.parametrize("key", ["../outside", "jobs/../../outside", "/etc/passwd",
                                 "jobs/a/../../../x"])
def test_a_key_outside_the_folder_is_refused(tmp_path: Path, key: str) -> None:
    root = tmp_path / "store"
    storage = LocalStorage(root, secret_key="test")
    for attempt in (lambda: storage.put(key, b"x", "x"), lambda: storage.get(key),
                    lambda: storage.modified(key)):
        with pytest.raises(StorageError, match="leaves the storage folder"):
            attempt()
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
    assert list(root.iterdir()) == []


def test_a_key_inside_the_folder_is_its_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, secret_key="test")
    assert storage.path("jobs/a/outputs/0/result.png") == (
        tmp_path.resolve() / "jobs" / "a" / "outputs" / "0" / "result.png")
