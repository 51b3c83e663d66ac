"""A one-pass reading of a small multipart/form-data body already in memory.

A one-image request (the API's ``POST /api/v1/jobs``) is a few text fields and one file.
Werkzeug's parser is made for streams of any size: it compiles two regular expressions
for each request's boundary and runs a state machine over 64 KB chunks, ~2 ms of CPU for
a 2 MB photo. With the whole body in memory, finding the boundaries is a few ``find``
calls. Only the plain, well-formed shape every client sends is read here (CRLF line ends,
no preamble, simple headers); anything else returns None and Werkzeug's parser reads the
same bytes, with its own errors and limits.
"""

from __future__ import annotations

import io

from werkzeug.datastructures import FileStorage, Headers
from werkzeug.http import parse_options_header

# Part headers this reader understands; a part with any other goes to Werkzeug.
KNOWN_HEADERS = frozenset({"content-disposition", "content-type", "content-length"})
# The character sets Werkzeug accepts for a text field (others are read as UTF-8).
CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})

Fields = list[tuple[str, str]]
Files = list[tuple[str, FileStorage]]


def parse(body: bytes, boundary: str, *, max_parts: int | None,
          max_field_bytes: int | None) -> tuple[Fields, Files] | None:
    """The fields and files of ``body``, as Werkzeug would give them; None when ``body``
    is not of the plain shape read here (or breaks a limit: Werkzeug then refuses it)."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    # The first delimiter, at the very start or after an empty line (Werkzeug's own client).
    first = 0 if body.startswith(delimiter) else -2
    if not body.startswith(delimiter[2:] + b"\r\n", first + 2):
        return None
    fields: Fields = []
    files: Files = []
    start = first + len(delimiter) + 2  # just past the first delimiter and its CRLF
    while True:
        end = body.find(delimiter, start)
        if end < 0:
            return None  # no closing delimiter: a truncated body
        part = _part(body, start, end, max_field_bytes)
        if part is None:
            return None
        name, value = part
        if isinstance(value, FileStorage):
            files.append((name, value))
        else:
            fields.append((name, value))
        if max_parts is not None and len(fields) + len(files) > max_parts:
            return None
        after = end + len(delimiter)
        if body.startswith(b"--", after):
            return fields, files  # the closing delimiter; an epilogue is ignored
        if not body.startswith(b"\r\n", after):
            return None
        start = after + 2


def _part(body: bytes, start: int, end: int,
          max_field_bytes: int | None) -> tuple[str, str | FileStorage] | None:
    split = body.find(b"\r\n\r\n", start, end)
    if split < 0:
        return None
    try:
        headers = _headers(body[start:split])
    except (UnicodeDecodeError, ValueError):
        return None
    if headers is None or "content-disposition" not in headers:
        return None
    disposition, options = parse_options_header(headers["content-disposition"])
    name = options.get("name")
    if disposition != "form-data" or name is None:
        return None
    data = body[split + 4:end]
    filename = options.get("filename")
    if filename is not None:
        return name, FileStorage(io.BytesIO(data), filename, name, headers=headers)
    if max_field_bytes is not None and len(data) > max_field_bytes:
        return None
    charset = parse_options_header(headers.get("content-type", ""))[1].get("charset", "")
    return name, data.decode(charset.lower() if charset.lower() in CHARSETS else "utf-8",
                             "replace")


def _headers(raw: bytes) -> Headers | None:
    found = []
    for line in raw.split(b"\r\n"):
        if not line or line[:1] in (b" ", b"\t"):
            return None  # an empty line or a continued header: not the plain shape
        name, colon, value = line.decode().partition(":")
        name = name.strip(" \t")
        if not colon or name.lower() not in KNOWN_HEADERS:
            return None
        found.append((name, value.strip(" \t")))
    return Headers(found)
