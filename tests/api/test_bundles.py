"""GET /api/v1/jobs/<id>/bundle.zip: every finished output in one streamed ZIP."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

from pixtools.queues import get_queues
from tests.fixtures import generate
from tests.support.browser import browser
from tests.support.images import make_image

RECIPE = {"outputs": [
    {"steps": [{"op": "metadata"}, {"op": "resize", "width": 24},
               {"op": "convert", "format": "webp"}]},
    {"steps": [{"op": "convert", "format": "jpeg"}]},
]}


def post(client, data: bytes, recipe: dict, name: str = "holiday photo.jpg",
         headers: dict[str, str] | None = None):
    return client.post("/api/v1/jobs", data={"file": (io.BytesIO(data), name),
                                             "recipe": json.dumps(recipe)},
                       content_type="multipart/form-data", headers=headers)


def test_bundle_holds_each_output_and_the_metadata_report(app):
    queues = get_queues(app)
    queues.standard.immediate = queues.ml.immediate = True
    try:
        client = app.test_client()
        job_id = post(client, generate.gps_jpeg(), RECIPE).get_json()["id"]
    finally:
        queues.standard.immediate = queues.ml.immediate = False
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "succeeded"

    reply = client.get(f"/api/v1/jobs/{job_id}/bundle.zip")
    assert reply.status_code == 200
    assert reply.mimetype == "application/zip"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="holiday_photo.zip"'
    assert int(reply.headers["Content-Length"]) == len(reply.data)
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    assert archive.testzip() is None
    assert archive.namelist() == ["holiday_photo-1.webp", "holiday_photo-2.jpg", "metadata.json"]
    for name, output in zip(archive.namelist(), job["outputs"], strict=False):
        assert archive.read(name) == client.get(output["url"]).data
    report = json.loads(archive.read("metadata.json"))
    assert report == job["outputs"][0]["details"]["metadata"]
    assert report["camera"]["make"] == "PixCam"


def test_bundle_of_an_unfinished_job_is_a_clear_409(client):
    job_id = post(client, make_image((16, 16)), RECIPE).get_json()["id"]  # nothing consumes it
    reply = client.get(f"/api/v1/jobs/{job_id}/bundle.zip")
    assert reply.status_code == 409
    assert reply.get_json()["error"] == "conflict"
    assert "no finished outputs" in reply.get_json()["message"]


def test_bundle_of_someone_elses_job_is_404(app):
    (alice, alice_csrf), (bob, _) = browser(app), browser(app)
    job_id = post(alice, make_image((16, 16)), RECIPE, headers=alice_csrf).get_json()["id"]
    assert bob.get(f"/api/v1/jobs/{job_id}/bundle.zip").status_code == 404


def test_bundle_streams_with_flat_memory(app, tmp_path):
    from pixtools import jobs
    from pixtools.models import Job
    from pixtools.storage import get_storage

    client = app.test_client()
    recipe = {"outputs": [{"steps": [{"op": "convert", "format": "png"}]}] * 8}
    job_id = post(client, make_image((16, 16)), recipe).get_json()["id"]
    storage = get_storage(app)
    size = 6 * 1024 * 1024
    job = app.extensions["sqlalchemy"].session.get(Job, job_id)
    for output in job.outputs:  # eight finished 6 MB results, written straight to storage
        key = jobs.result_key(job_id, output.position, "png")
        storage.put(key, os.urandom(size), "image/png")
        jobs.claim_step(output.steps[0].id)  # as a worker would, before it stores a result
        jobs.finish_output(output, key=key, fmt="png", size=(1, 1), nbytes=size)

    reply = client.get(f"/api/v1/jobs/{job_id}/bundle.zip", buffered=False)
    assert reply.status_code == 200
    total = 0
    target = tmp_path / "bundle.zip"
    tracemalloc.start()
    try:
        with target.open("wb") as handle:
            for chunk in reply.response:
                handle.write(chunk)
                total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reply.close()
    assert total == int(reply.headers["Content-Length"]) > 8 * size
    assert peak < 2 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming {total / 1e6} MB"
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None and len(archive.namelist()) == 8
