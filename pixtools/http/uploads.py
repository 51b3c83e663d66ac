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
from . import multipart

MAX_NAME_CHARS = 200
# Room for the multipart envelope and the form fields around the files themselves.
ENVELOPE_BYTES = 256 * 1024
# Endpoints whose one request may carry several images (one job each).
MULTI_FILE_ENDPOINTS = frozenset({"web.create_jobs"})


# Pieces a one-image body is read in (Werkzeug's own size): small pieces stay in the CPU's
# cache and the allocator's reused memory; 256 KB and more measured no faster.
READ_PIECE_BYTES = 65536


def _one_image_bytes() -> int:
    max_upload: int = current_app.extensions["pixtools.settings"].max_upload_bytes
    return max_upload + ENVELOPE_BYTES


class UploadRequest(Request):
    """Reads a one-image request's form in memory.

    ``read`` takes the whole image into memory next anyway: Werkzeug's default, a
    temporary file for anything over 500 KB, would only write it to disk and read it back.
    The body is read whole and split by ``multipart.parse`` (Werkzeug's parser reads what
    that leaves to it). Larger bodies (several images for the page) still stream, to a
    temporary file.
    """

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        body = self._one_image_body()
        if body is not None:
            found = multipart.parse(body, self.mimetype_params["boundary"],
                                    max_parts=self.max_form_parts,
                                    max_field_bytes=self.max_form_memory_size)
            if found is not None:
                self.__dict__["form"] = self.parameter_storage_class(found[0])
                self.__dict__["files"] = self.parameter_storage_class(found[1])
                return
            self.__dict__["_pixtools_body"] = body  # for Werkzeug's parser, next
        super()._load_form_data()

    def _one_image_body(self) -> bytes | None:
        length = self.content_length
        if (self.mimetype != "multipart/form-data" or "boundary" not in self.mimetype_params
                or length is None or not 0 < length <= _one_image_bytes()
                or getattr(self, "_cached_data", None) is not None):
            return None
        pieces, received = [], 0
        while received < length:
            piece = self.stream.read(min(READ_PIECE_BYTES, length - received))
            if not piece:
                break  # the client went away: the parser reports the body as incomplete
            pieces.append(piece)
            received += len(piece)
        return b"".join(pieces)

    def _get_stream_for_parsing(self) -> IO[bytes]:
        body = self.__dict__.pop("_pixtools_body", None)
        if body is not None:
            return io.BytesIO(body)
        return super()._get_stream_for_parsing()

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> IO[bytes]:
        if total_content_length is not None and total_content_length <= _one_image_bytes():
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
