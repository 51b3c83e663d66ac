"""The catalogue on the real services: consumers, PostgreSQL, Redis and S3."""

from __future__ import annotations

import io
import json
import zipfile

import requests
from PIL import Image

from tests.fixtures import generate
from tests.support.environment import wait_for
from tests.support.images import LEAKS


def test_catalogue_job_on_real_consumers_and_its_bundle_from_s3(server_app, consumers):
    client = server_app.test_client()
    recipe = {
        "outputs": [
            {"steps": [{"op": "metadata"},
                       {"op": "resize", "width": 16, "height": 16, "mode": "fill",
                        "gravity": "smart"},
                       {"op": "convert", "format": "webp"}]},
            {"steps": [{"op": "rotate", "angle": 90}, {"op": "convert", "format": "avif"}]},
            {"steps": [{"op": "grayscale"}, {"op": "sharpen"}, {"op": "blur", "radius": 1}]},
        ],
    }
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(generate.gps_jpeg()), "camera.jpg"),
              "recipe": json.dumps(recipe)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    location = response.headers["Location"]
    try:
        job = wait_for(
            lambda: (b := client.get(location).get_json())["status"] in ("succeeded", "failed")
            and b,
            timeout=90,
        )
    except AssertionError:
        raise AssertionError("\n".join(c.output() for c in consumers)) from None
    assert job["status"] == "succeeded", job
    fill, turned, grey = job["outputs"]
    assert (fill["format"], fill["width"], fill["height"]) == ("webp", 16, 16)
    assert (turned["format"], turned["width"], turned["height"]) == ("avif", 32, 48)
    assert (grey["format"], grey["width"], grey["height"]) == ("jpeg", 48, 32)
    assert fill["details"]["metadata"]["gps"]["present"] is True
    for output in job["outputs"]:
        data = requests.get(output["url"], timeout=10).content
        assert len(data) == output["bytes"]
        assert not [leak for leak in LEAKS if leak in data]
    grey_image = Image.open(io.BytesIO(requests.get(grey["url"], timeout=10).content))
    assert grey_image.mode == "L"

    reply = client.get(f"{location}/bundle.zip")
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    assert archive.testzip() is None
    assert archive.namelist() == ["camera-1.webp", "camera-2.avif", "camera-3.jpg",
                                  "metadata.json"]
    assert json.loads(archive.read("metadata.json"))["lens"] == "PixLens 35mm"
