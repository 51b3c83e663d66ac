"""The storage interface every backend implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO
from urllib.parse import quote

# What may stand unquoted in a quoted-string filename: printable ASCII without " and \.
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` written safely (RFC 6266, RFC 5987): an ASCII
    fallback with anything unsafe replaced, and the exact name UTF-8 percent-encoded in
    ``filename*`` when the two differ. No byte of the name can end the quoted string or
    add a header parameter."""
    fallback = _UNSAFE_IN_QUOTES.sub("_", filename) or "download"
    header = f'attachment; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


class StorageError(RuntimeError):
    """The storage backend failed (unreachable, missing object, refused)."""


class Storage(ABC):
    """Objects addressed by ``key`` (a relative path such as ``jobs/<id>/source``).

    Keys are chosen by PixTools, never by users, and are deterministic per job and output,
    so a retried step overwrites its earlier result instead of adding another.
    """

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any earlier object."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Return the whole object; ``StorageError`` when it does not exist."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a readable stream of the object, for streaming large results."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; return how many."""

    @abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys under ``prefix``."""

    @abstractmethod
    def modified(self, key: str) -> datetime:
        """When the object was last written (UTC); ``StorageError`` when it does not exist."""

    @abstractmethod
    def signed_url(self, key: str, *, expires_in: int, filename: str, content_type: str) -> str:
        """A URL that downloads ``key`` as ``filename`` until ``expires_in`` seconds pass."""

    @abstractmethod
    def check(self) -> None:
        """Round-trip a small object; raise ``StorageError`` when that fails."""
