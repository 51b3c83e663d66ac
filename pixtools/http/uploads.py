"""Reading one uploaded image: size limit, then type and pixel limits from its header.

Every entry point (the API, the page, the sandbox page) accepts uploads through ``read``,
so an image refused by one is refused by the others with the same message.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Flask, Request, current_app, request
from werkzeug.datastructures import FileStorage

from .. import imaging
from ..errors import BadRequest, PayloadTooLarge
from ..jobs import Upload

MAX_NAME_CHARS = 200
# Room for the multipart envelope and the form fields around the files themselves.
ENVELOPE_BYTES = 256 * 1024
# Endpoints whose one request may carry several images (one job each).
MULTI_FILE_ENDPOINTS = frozenset({"web.create_jobs"})


class UploadRequest(Request):
    """Keeps a one-image request's file in memory while the form is parsed.

    ``read`` takes the whole image into memory next anyway: Werkzeug's default, a
    temporary file for anything over 500 KB, would only write it to disk and read it back.
    Larger bodies (several images for the page) still go to a temporary file.
    """

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> IO[bytes]:
        one_image = current_app.extensions["pixtools.settings"].max_upload_bytes + ENVELOPE_BYTES
        if total_content_length is not None and total_content_length <= one_image:
            return io.BytesIO()
        return super()._get_file_stream(total_content_length, content_type, filename,
                                        content_length)


def init_app(app: Flask) -> None:
    """Bound every request body; registered first, before anything reads a form."""
    settings = app.extensions["pixtools.settings"]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + ENVELOPE_BYTES
    app.request_class = UploadRequest

    @app.before_request
    def _allow_several_files() -> None:
        if request.endpoint in MULTI_FILE_ENDPOINTS:
            request.max_content_length = (
                settings.max_files_per_upload * settings.max_upload_bytes + ENVELOPE_BYTES
            )


def clean_filename(raw: str | None) -> str:
    """The upload's name as kept and shown back: its last path part, printable characters
    only (no CR, LF or NUL), at most ``MAX_NAME_CHARS`` long."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[:MAX_NAME_CHARS] or "image"


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


def read_one(request_files: list[FileStorage]) -> Upload:
    """The one image of a single-image request (the API, the sandbox page)."""
    if not request_files:
        raise BadRequest(
            "No image received: send it as multipart/form-data in a field named 'file'."
        )
    if len(request_files) > 1:
        raise BadRequest("Send one image per job: the 'file' field appeared more than once.")
    return read(request_files[0])
