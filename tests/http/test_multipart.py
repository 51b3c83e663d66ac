"""The one-pass multipart reading of one-image requests: the same fields and files as
Werkzeug's parser for the bodies clients send, and None (Werkzeug reads them instead) for
anything else, so no request is read differently from before."""

from __future__ import annotations

import io
import json

import pytest
import requests
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.test import EnvironBuilder

from pixtools.http import multipart
from tests.support.images import make_image

BOUNDARY = "b0undary"


def _werkzeug(body: bytes, boundary: str) -> tuple[list, list]:
    parser = MultiPartParser(lambda **_: io.BytesIO(), max_form_memory_size=500_000,
                             cls=MultiDict)
    form, files = parser.parse(io.BytesIO(body), boundary.encode(), len(body))
    return ([(k, v) for k, vs in form.lists() for v in vs],
            [(k, f.filename, f.name, f.mimetype, f.read()) for k, fs in files.lists() for f in fs])


def _ours(body: bytes, boundary: str) -> tuple[list, list] | None:
    found = multipart.parse(body, boundary, max_parts=1000, max_field_bytes=500_000)
    if found is None:
        return None
    fields, files = found
    return (fields, [(k, f.filename, f.name, f.mimetype, f.read()) for k, f in files])


def _requests_body(fields: dict, files: dict) -> tuple[bytes, str]:
    prepared = requests.Request("POST", "http://x/", data=fields, files=files).prepare()
    boundary = prepared.headers["Content-Type"].split("boundary=")[1]
    return prepared.body, boundary


@pytest.mark.parametrize("name", ["photo.jpg", "Été à Zürich.jpg", 'a "quoted"; name.png'])
def test_a_clients_body_reads_as_werkzeug_reads_it(name):
    image = make_image((40, 30), "JPEG") + b"\r\n--not-the-boundary\r\n"
    body, boundary = _requests_body(
        {"recipe": json.dumps({"outputs": []}), "webhook_url": ["https://a.example/h",
                                                                "https://b.example/h"]},
        {"file": (name, image, "image/jpeg")})
    assert _ours(body, boundary) == _werkzeug(body, boundary)
    fields, files = _ours(body, boundary)
    assert [k for k, _ in fields] == ["recipe", "webhook_url", "webhook_url"]
    assert files[0][4] == image


def test_werkzeugs_own_client_body_reads_the_same():
    builder = EnvironBuilder(method="POST", data={
        "recipe": "{}", "file": (io.BytesIO(b"\x89PNG\r\n\r\n--x"), "a.png", "image/png")})
    environ = builder.get_environ()
    body = environ["wsgi.input"].read()
    boundary = parse_options_header(environ["CONTENT_TYPE"])[1]["boundary"]
    assert _ours(body, boundary) == _werkzeug(body, boundary)


def test_a_declared_charset_is_honoured():
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"t\"\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n").encode() + "é".encode(
        "latin-1") + f"\r\n--{BOUNDARY}--\r\n".encode()
    assert _ours(body, BOUNDARY) == _werkzeug(body, BOUNDARY) == ([("t", "é")], [])


@pytest.mark.parametrize("body", [
    # a preamble before the first delimiter
    f"hello\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
    f"--{BOUNDARY}--\r\n",
    # LF line ends
    f"--{BOUNDARY}\nContent-Disposition: form-data; name=\"a\"\n\n1\n--{BOUNDARY}--\n",
    # a continued header line
    f"--{BOUNDARY}\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\n1\r\n"
    f"--{BOUNDARY}--\r\n",
    # a header this reader does not know
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
    f"Content-Transfer-Encoding: base64\r\n\r\nMQ==\r\n--{BOUNDARY}--\r\n",
    # no closing delimiter (a truncated body)
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1",
    # no Content-Disposition
    f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\n1\r\n--{BOUNDARY}--\r\n",
    # a disposition other than form-data
    f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n"
    f"--{BOUNDARY}--\r\n",
])
def test_anything_but_the_plain_shape_is_left_to_werkzeug(body):
    assert _ours(body.encode(), BOUNDARY) is None


def test_limits_are_left_to_werkzeug_to_refuse():
    big = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".encode()
           + b"x" * 11 + f"\r\n--{BOUNDARY}--\r\n".encode())
    assert multipart.parse(big, BOUNDARY, max_parts=None, max_field_bytes=10) is None
    many = "".join(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\n"
                   f"{i}\r\n" for i in range(3)) + f"--{BOUNDARY}--\r\n"
    assert multipart.parse(many.encode(), BOUNDARY, max_parts=2, max_field_bytes=None) is None
    assert multipart.parse(many.encode(), BOUNDARY, max_parts=3, max_field_bytes=None)


def test_the_api_takes_a_job_read_either_way(client):
    """A plain body (read here) and one with a preamble (read by Werkzeug) make the same
    job; a field too large for the form is still refused with 413."""
    image = make_image((64, 48), "PNG")
    recipe = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 32}]}]})
    part = (f"Content-Disposition: form-data; name=\"recipe\"\r\n\r\n{recipe}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    plain = f"--{BOUNDARY}\r\n".encode() + part + image + f"\r\n--{BOUNDARY}--\r\n".encode()
    for body in (plain, b"preamble\r\n" + plain):
        response = client.post("/api/v1/jobs", data=body,
                               content_type=f"multipart/form-data; boundary={BOUNDARY}")
        assert response.status_code == 202, response.get_json()
        assert response.get_json()["source"]["name"] == "a.png"
    huge = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"recipe\"\r\n\r\n"
            ).encode() + b" " * 600_000 + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = client.post("/api/v1/jobs", data=huge,
                           content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 413
