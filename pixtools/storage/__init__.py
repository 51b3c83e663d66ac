"""Where uploads and results live, behind one small interface.

``Storage`` is the interface; ``LocalStorage`` (a folder, desktop mode) and ``S3Storage``
(any S3-compatible store, server mode) implement it. ``from_url`` picks one from
``PIXTOOLS_STORAGE_URL``.
"""

from __future__ import annotations

from flask import Flask

from .base import Storage, StorageError
from .local import LocalStorage
from .s3 import S3Storage

__all__ = ["LocalStorage", "S3Storage", "Storage", "StorageError", "from_url", "init_app"]


def from_url(url: str, *, secret_key: str, endpoint_url: str | None = None,
             public_url: str | None = None) -> Storage:
    """The storage ``url`` names; ``public_url``: where browsers reach an S3 store, when not
    at ``endpoint_url`` (download links are signed for it)."""
    if url.startswith("file://"):
        return LocalStorage.from_url(url, secret_key=secret_key)
    if url.startswith("s3://"):
        return S3Storage.from_url(url, endpoint_url=endpoint_url or None,
                                  public_url=public_url or None)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix")


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    app.extensions["pixtools.storage"] = from_url(
        settings.effective_storage_url,
        secret_key=app.config["SECRET_KEY"],
        endpoint_url=settings.s3_endpoint_url,
        public_url=settings.s3_public_url,
    )


def get_storage(app: Flask) -> Storage:
    storage: Storage = app.extensions["pixtools.storage"]
    return storage
