"""Upload → queued task → signed download, in both modes, against the real services."""

from __future__ import annotations

import io
import json
import re
import signal
import time
from pathlib import Path

import requests
from PIL import Image

from tests.support.environment import free_port, wait_for
from tests.support.images import make_image

TWO_OUTPUTS = json.dumps({
    "outputs": [
        {"steps": [{"op": "resize", "width": 320}, {"op": "convert", "format": "webp"}]},
        {"steps": [{"op": "convert", "format": "avif", "quality": 60}]},
        {"steps": [{"op": "resize", "height": 100}, {"op": "convert", "format": "jpeg"}]},
    ]
})
EXPECTED = [("WEBP", (320, 240)), ("AVIF", (640, 480)), ("JPEG", (133, 100))]


def check_outputs(job: dict, fetch) -> None:
    assert job["status"] == "succeeded", job
    for output, (fmt, size) in zip(job["outputs"], EXPECTED, strict=True):
        assert output["status"] == "succeeded"
        assert all(step["status"] == "succeeded" and step["progress"] == 100
                   for step in output["steps"])
        data = fetch(output["url"])
        assert len(data) == output["bytes"]
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == fmt
        assert image.size == size == (output["width"], output["height"])
        assert output["format"] == fmt.lower()


def test_server_mode_end_to_end(server_app, consumers):
    client = server_app.test_client()
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image()), "holiday photo.jpg"), "recipe": TWO_OUTPUTS},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    location = response.headers["Location"]

    def finished():
        body = client.get(location).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    try:
        job = wait_for(finished, timeout=90)
    except AssertionError:
        raise AssertionError("\n".join(c.output() for c in consumers)) from None

    def fetch(url: str) -> bytes:
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=" in url  # an S3 presigned URL
        reply = requests.get(url, timeout=10)
        assert reply.status_code == 200
        assert 'filename="holiday_photo-' in reply.headers["Content-Disposition"]
        return reply.content

    check_outputs(job, fetch)
    # Results are stored under deterministic keys in the bucket.
    from pixtools.storage import get_storage

    keys = set(get_storage(server_app).keys(f"jobs/{job['id']}/"))
    assert keys == {
        f"jobs/{job['id']}/source",
        f"jobs/{job['id']}/output-0.webp",
        f"jobs/{job['id']}/output-1.avif",
        f"jobs/{job['id']}/output-2.jpg",
    }


def test_server_mode_failed_step_fails_the_job_with_a_reason(server_app, consumers):
    from pixtools.storage import get_storage

    client = server_app.test_client()
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((64, 64))), "a.png"), "recipe": TWO_OUTPUTS},
        content_type="multipart/form-data",
    )
    job_id = response.get_json()["id"]
    # Remove the upload before a consumer can read it: every output must fail, clearly.
    get_storage(server_app).delete_prefix(f"jobs/{job_id}/source")
    job = wait_for(
        lambda: (b := client.get(f"/api/v1/jobs/{job_id}").get_json())["status"] == "failed"
        and all(o["status"] == "failed" for o in b["outputs"]) and b,
        timeout=60,
    )
    assert "storage problem on the server" in job["error"]  # no bucket or key named
    assert job["outputs"][0]["steps"][0]["status"] == "failed"
    assert job["outputs"][0]["steps"][1]["error"] == "not run: an earlier step failed"
    # The consumers are still alive and serving.
    assert all(c.proc.poll() is None for c in consumers)


def test_desktop_mode_end_to_end(tmp_path: Path, spawn):
    port = free_port()
    desktop = spawn("desktop", "--no-browser", "--port", str(port), "--data-dir",
                    str(tmp_path / "data"))
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: "running at" in desktop.output(), timeout=60)
    assert f"PixTools is running at {base}/" in desktop.output()
    session = requests.Session()
    response = session.post(
        f"{base}/api/v1/jobs",
        files={"file": ("holiday photo.jpg", make_image(), "image/jpeg")},
        data={"recipe": TWO_OUTPUTS},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    location = base + response.headers["Location"]
    job = wait_for(
        lambda: (b := session.get(location, timeout=5).json())["status"] != "queued"
        and b["status"] != "running" and b,
        timeout=60,
    )

    def fetch(url: str) -> bytes:
        assert url.startswith(f"{base}/files/jobs/")
        reply = session.get(url, timeout=5)
        assert reply.status_code == 200
        assert reply.headers["Content-Disposition"].startswith("attachment;")
        return reply.content

    check_outputs(job, fetch)

    # Any change to a signed URL is refused.
    url = job["outputs"][0]["url"]
    tampered = [
        re.sub(r"sig=[0-9a-f]{4}", "sig=0000", url),
        re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 60}", url),
        url.replace("name=holiday_photo-1.webp", "name=evil.html"),
        url.replace("output-0.webp", "output-1.avif"),
        url.split("&sig=")[0],
    ]
    for bad in tampered:
        reply = session.get(bad, timeout=5)
        assert reply.status_code == 403, bad
        assert "invalid" in reply.json()["message"] or "incomplete" in reply.json()["message"]

    # Ctrl-C stops it cleanly within seconds, without a traceback.
    started = time.monotonic()
    code = desktop.stop(signal.SIGINT, timeout=15)
    assert time.monotonic() - started < 10
    assert code == 0
    assert "Traceback" not in desktop.output()
    assert "Stopped." in desktop.output()


def test_desktop_signed_urls_expire(app, client):
    from pixtools.storage import get_storage

    storage = get_storage(app)
    storage.put("jobs/x/output-0.png", make_image((4, 4), fmt="PNG"), "image/png")
    url = storage.signed_url("jobs/x/output-0.png", expires_in=-1, filename="x.png",
                             content_type="image/png")
    reply = client.get(url)
    assert reply.status_code == 403
    assert "expired" in reply.get_json()["message"]
    fresh = storage.signed_url("jobs/x/output-0.png", expires_in=60, filename="x.png",
                               content_type="image/png")
    reply = client.get(fresh)
    assert reply.status_code == 200 and reply.mimetype == "image/png"
