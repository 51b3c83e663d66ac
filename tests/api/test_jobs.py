"""The JSON API: job submission, its validation errors, reading jobs and operations."""

from __future__ import annotations

import io
import json

import pytest

from tests.support.browser import browser
from tests.support.images import make_image, noise_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]})


def post(client, data: bytes | None = None, recipe: str | None = RECIPE, name="photo.jpg", **kw):
    form = {}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    if recipe is not None:
        form["recipe"] = recipe
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data", **kw)


def test_submit_answers_202_with_location_and_job(client):
    response = post(client, make_image())
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    assert body["status"] == "queued"
    assert body["error"] is None
    assert body["outputs"][0]["steps"][0] == {
        "op": "convert",
        "params": {
            "format": "webp", "quality": 80, "speed": None, "progressive": True,
            "subsampling": "4:2:0", "compression": 6, "palette": False, "colours": 256,
            "lossless": False, "method": 4, "background": "white",
            "quality_target": None, "candidates": None, "encoder": "libjpeg",
        },
        "status": "queued",
        "progress": 0,
        "error": None,
    }
    assert body["created_at"].endswith("+00:00") and body["expires_at"] > body["created_at"]
    assert client.get(response.headers["Location"]).get_json()["id"] == body["id"]


def test_job_ids_are_long_and_random(client):
    ids = {post(client, make_image((32, 32))).get_json()["id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(len(job_id) >= 22 for job_id in ids)  # 16 random bytes, URL-safe


@pytest.mark.parametrize(
    ("kwargs", "status", "error", "words"),
    [
        ({"data": None}, 400, "bad_request", "field named 'file'"),
        ({"recipe": None}, 422, "invalid_recipe", "recipe is missing"),
        ({"recipe": "{not json"}, 422, "invalid_recipe", "not valid JSON"),
        ({"recipe": "[]"}, 422, "invalid_recipe", "JSON object"),
        ({"recipe": '{"outputs": []}'}, 422, "invalid_recipe", "non-empty list"),
        ({"recipe": '{"outputs": [{"steps": [{"op": "explode"}]}]}'}, 422, "invalid_recipe",
         "unknown operation 'explode'"),
        ({"recipe": '{"outputs": [{"steps": [{"op": "resize", "width": -5}]}]}'}, 422,
         "invalid_recipe", "outputs.0.steps.0.width"),
        ({"recipe": '{"outputs": [{"steps": [{"op": "resize"}]}]}'}, 422, "invalid_recipe",
         "give width, height or both"),
        ({"recipe": '{"outputs": [{"steps": [{"op": "convert", "format": "bmp"}]}]}'}, 422,
         "invalid_recipe", "outputs.0.steps.0.format"),
        ({"recipe": '{"outputs": [{"steps": [{"op": "convert", "format": "png", "dpi": 3}]}]}'},
         422, "invalid_recipe", "no parameter 'dpi'"),
        ({"recipe": '{"outputs": [{"steps": []}], "flavour": "x"}'}, 422, "invalid_recipe",
         "Unknown recipe field 'flavour'"),
        ({"data": b"hello, I am text", "name": "cat.jpg"}, 415, "unsupported_media_type",
         "not an image"),
        ({"data": b"<svg xmlns='http://www.w3.org/2000/svg'/>", "name": "x.png"}, 415,
         "unsupported_media_type", "not an image"),
        ({"data": b""}, 415, "unsupported_media_type", "empty"),
    ],
)
def test_bad_requests_get_precise_json_errors(client, kwargs, status, error, words):
    args = {"data": make_image((16, 16)), **kwargs}
    response = post(client, **args)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == error
    assert words in body["message"]


def test_too_many_outputs_and_steps_are_refused(client):
    many_outputs = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}] * 9})
    response = post(client, make_image((8, 8)), recipe=many_outputs)
    assert response.status_code == 422
    assert "at most 8" in response.get_json()["message"]
    many_steps = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 4}] * 13}]})
    response = post(client, make_image((8, 8)), recipe=many_steps)
    assert response.status_code == 422
    assert "at most 12" in response.get_json()["message"]


def test_two_files_are_refused(client):
    data = {
        "file": [(io.BytesIO(make_image((8, 8))), "a.jpg"), (io.BytesIO(make_image()), "b.jpg")],
        "recipe": RECIPE,
    }
    response = client.post("/api/v1/jobs", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "one image per job" in response.get_json()["message"]


def test_upload_size_limit_is_413(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "max_upload_bytes": 4096})
    db.upgrade(app)
    client = app.test_client()
    big = noise_image((100, 100))
    assert len(big) > 4096
    response = post(client, big)
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert "larger than 0 MB" in response.get_json()["message"]
    # A request body far beyond the limit is cut off by the server before parsing.
    response = post(client, b"\0" * 600_000)
    assert response.status_code == 413
    assert response.get_json()["message"].startswith("The upload is larger than")


def test_pixel_limits_refuse_bombs_from_the_header(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "max_pixels": 10_000, "max_side": 5000})
    db.upgrade(app)
    client = app.test_client()
    response = post(client, make_image((200, 100), fmt="PNG"))
    assert response.status_code == 422
    assert "megapixels" in response.get_json()["message"]
    response = post(client, make_image((6000, 1), fmt="PNG"))
    assert response.status_code == 422
    assert "at most 5000 pixels" in response.get_json()["message"]


def test_pillow_bomb_warning_is_an_error(client, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4 000 pixels is a "bomb" now
    response = post(client, make_image((80, 50), fmt="PNG"))
    assert response.status_code == 422
    assert "decompression bomb" in response.get_json()["message"]


def test_unknown_job_and_unknown_path_are_json_404(client):
    response = client.get("/api/v1/jobs/doesnotexist")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    message = "No job 'doesnotexist': check the id, or it may have expired."
    assert response.get_json() == {
        # RFC 9457 problem details, with the earlier shape's members kept for old clients.
        "type": "tag:pixtools,2026:problems/not_found", "title": "Not found", "status": 404,
        "detail": message, "instance": "/api/v1/jobs/doesnotexist",
        "error": "not_found", "message": message,
    }
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    response = client.put("/api/v1/jobs")
    assert response.status_code == 405
    assert "PUT" in response.get_json()["message"]


def test_one_browser_cannot_see_another_browsers_job(app):
    (alice, alice_token), (bob, bob_token) = browser(app), browser(app)
    job_id = post(alice, make_image((8, 8)), headers=alice_token).get_json()["id"]
    assert alice.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert bob.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert bob.delete(f"/api/v1/jobs/{job_id}", headers=bob_token).status_code == 404
    assert app.test_client().get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_forged_owner_cookie_is_ignored(app):
    alice, token = browser(app)
    job_id = post(alice, make_image((8, 8)), headers=token).get_json()["id"]
    mallory = app.test_client()
    mallory.set_cookie("pixtools_owner", "forged-value")
    assert mallory.get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_delete_removes_job_and_files(app, client):
    from pixtools.storage import get_storage

    job_id = post(client, make_image((8, 8))).get_json()["id"]
    storage = get_storage(app)
    assert list(storage.keys(f"jobs/{job_id}/"))
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert not list(storage.keys(f"jobs/{job_id}/"))


def test_operations_list_declares_parameters(client):
    body = client.get("/api/v1/operations").get_json()
    by_name = {op["name"]: op for op in body["operations"]}
    assert {"convert", "resize"} <= set(by_name)
    params = {p["name"]: p for p in by_name["convert"]["params"]}
    assert params["format"]["type"] == "choice"
    assert params["format"]["choices"] == ["jpeg", "png", "webp", "avif", "gif", "auto"]
    assert params["format"]["required"] is True
    assert params["quality"] == {
        "name": "quality", "type": "integer", "required": False, "default": 80,
        "description": "Lossy quality (JPEG, WebP, AVIF); auto: the lowest that reaches "
        "`quality_target`.", "minimum": 1, "maximum": 100, "keywords": ["auto"],
    }
    assert params["quality_target"]["keywords"] == ["high", "medium", "low"]
    assert params["quality_target"]["type"] == "number"
    assert params["candidates"]["type"] == "array"
    assert params["encoder"]["choices"] == ["libjpeg", "jpegli"]
    width = {p["name"]: p for p in by_name["resize"]["params"]}["width"]
    assert width["type"] == "integer" and width["default"] is None and width["minimum"] == 1


def test_liveness(client):
    assert client.get("/api/health").get_json() == {"status": "ok"}
