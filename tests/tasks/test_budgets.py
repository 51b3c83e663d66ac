"""Budgets: every operation's result is predicted before it allocates (a rotate bomb is
refused with its reason), and a step past its time budget fails with a reason while the
consumer goes on serving."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from PIL import Image

from tests.support.environment import free_port, wait_for
from tests.support.images import make_image


def _post(client, data: bytes, steps: list[dict], name: str = "a.png"):
    recipe = json.dumps({"outputs": [{"steps": steps}]})
    return client.post("/api/v1/jobs", data={"file": (io.BytesIO(data), name), "recipe": recipe},
                       content_type="multipart/form-data")


def _noise(size: tuple[int, int]) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_a_rotate_bomb_is_refused_with_its_reason(desktop_config, request):
    desktop_config["max_output_pixels"] = 1_000_000
    client = request.getfixturevalue("run_now")
    # 900 × 900 (0.81 MP) turned 45° needs a 1274 × 1274 canvas: 1.6 MP, over the limit.
    reply = _post(client, make_image((900, 900), "PNG"), [{"op": "rotate", "angle": 45}])
    body = reply.get_json()
    if reply.status_code == 202:  # refused by the worker, before the canvas exists
        job = client.get(f"/api/v1/jobs/{body['id']}").get_json()
        assert job["status"] == "failed", job
        message = job["error"]
    else:  # or at submission already, from the recipe and the image's size
        assert reply.status_code == 422, body
        message = body["message"]
    assert "rotate" in message and "1274 × 1274" in message, message


def test_every_operation_is_checked_before_it_runs(desktop_config, request):
    """An operation without its own prediction keeps the input's size: a source already
    over the output limits is refused before the operation allocates anything."""
    desktop_config["max_output_side"] = 100
    client = request.getfixturevalue("run_now")
    reply = _post(client, make_image((160, 120), "PNG"), [{"op": "blur", "radius": 2},
                                                          {"op": "resize", "width": 80}])
    job = client.get(f"/api/v1/jobs/{reply.get_json()['id']}").get_json()
    assert job["status"] == "failed" and "blur would make the image 160 × 120" in job["error"]


def test_a_step_past_its_budget_fails_with_its_reason(desktop_config, request):
    desktop_config["step_max_seconds"] = 0.001
    client = request.getfixturevalue("run_now")
    reply = _post(client, make_image((1200, 900), "PNG"), [{"op": "blur", "radius": 40}])
    job = client.get(f"/api/v1/jobs/{reply.get_json()['id']}").get_json()
    assert job["status"] == "failed"
    assert "time budget of 0.001 s" in job["error"] and "PIXTOOLS_STEP_MAX_SECONDS" in job["error"]


def test_the_consumer_keeps_serving_after_a_step_over_budget(tmp_path, spawn):
    """A real consumer (desktop mode, one standard worker): an AVIF at speed 0 of a noisy
    image runs past a 2 s budget and fails; the next small job is served at once."""
    import requests

    port = free_port()
    desktop = spawn("desktop", "--no-browser", "--port", str(port), "--data-dir",
                    str(tmp_path / "data"),
                    env={"PIXTOOLS_STEP_MAX_SECONDS": "2", "PIXTOOLS_STANDARD_WORKERS": "1"})
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: "running at" in desktop.output(), timeout=60)

    def send(data: bytes, steps: list[dict]) -> str:
        recipe = json.dumps({"outputs": [{"steps": steps}]})
        reply = requests.post(f"{base}/api/v1/jobs", data={"recipe": recipe}, timeout=10,
                              files={"file": ("a.png", data, "image/png")})
        assert reply.status_code == 202, reply.text
        job_id: str = reply.json()["id"]
        return job_id

    def ended(job_id: str) -> dict | None:
        job = requests.get(f"{base}/api/v1/jobs/{job_id}", timeout=5).json()
        return job if job["status"] in ("succeeded", "failed") else None

    started = time.monotonic()
    heavy = send(_noise((1600, 1600)), [{"op": "convert", "format": "avif", "speed": 0}])
    light = send(make_image((32, 24), "PNG"), [{"op": "convert", "format": "png"}])
    failed = wait_for(lambda: ended(heavy), timeout=60)
    assert failed["status"] == "failed" and "time budget of 2 s" in failed["error"], failed
    done = wait_for(lambda: ended(light), timeout=30)
    assert done["status"] == "succeeded"
    assert time.monotonic() - started < 30  # not the minutes the encode itself would take
