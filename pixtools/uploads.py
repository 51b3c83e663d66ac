"""Reading one uploaded image: size limit, then type and pixel limits from its header.

Both the API and the page accept uploads through ``read``, so an image refused by one is
refused by the other with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from werkzeug.datastructures import FileStorage

from . import imaging
from .errors import PayloadTooLarge

MAX_NAME_CHARS = 200


def clean_filename(raw: str | None) -> str:
    """The upload's name as kept and shown back: its last path part, printable characters
    only (no CR, LF or NUL), at most ``MAX_NAME_CHARS`` long."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[:MAX_NAME_CHARS] or "image"


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    info: imaging.ImageInfo


def read(upload: FileStorage) -> Upload:
    """The file's bytes, name and image header, or the ``PixToolsError`` that refuses it."""
    settings = current_app.extensions["pixtools.settings"]
    data = upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"The file is larger than {settings.max_upload_bytes / 1e6:.0f} MB: "
            "send a smaller image."
        )
    info = imaging.inspect(data, imaging.Limits.from_settings(settings))
    return Upload(data=data, filename=clean_filename(upload.filename), info=info)
