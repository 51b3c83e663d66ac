"""denoise on the ml queue: real weights, real consumers, hand-over to the standard queue."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixtools import operations
from pixtools.recipe import parse
from tests.support.environment import wait_for

DENOISE_RESIZE_PNG = json.dumps({"outputs": [{"steps": [
    {"op": "denoise"}, {"op": "resize", "width": 96}, {"op": "convert", "format": "png"},
]}]})


def noisy_pair(size: tuple[int, int] = (192, 128)) -> tuple[np.ndarray, bytes]:
    """A smooth clean picture and the PNG of it with Gaussian noise (σ = 25)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    clean = np.stack([x / size[0], y / size[1], 0.5 + 0.3 * np.sin(x / 9.0)], axis=-1) * 255
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="PNG")
    return clean, buffer.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def libraries_of(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_denoise_is_registered_on_the_ml_queue_with_its_parameters():
    op = operations.REGISTRY["denoise"]
    assert op.queue == "ml"
    strength, model, noise_level = op.describe()["params"]
    assert strength["name"] == "strength" and strength["default"] == 1.0
    assert (strength["minimum"], strength["maximum"]) == (0, 1)
    assert model["type"] == "choice" and model["choices"] == ["auto", "ffdnet", "dncnn"]
    assert model["default"] == "auto"
    assert noise_level["type"] == "number" and noise_level["keywords"] == ["auto"]
    assert noise_level["default"] == "auto"
    assert (noise_level["minimum"], noise_level["maximum"]) == (0, 75)
    recipe = parse(DENOISE_RESIZE_PNG, max_outputs=8, max_steps=12)
    assert [s.queue for s in recipe.outputs[0]] == ["ml", "standard", "standard"]
    with pytest.raises(Exception, match="strength"):
        parse('{"outputs": [{"steps": [{"op": "denoise", "strength": 2}]}]}',
              max_outputs=8, max_steps=12)


@pytest.mark.parametrize(("step", "words"), [
    ({"noise_level": 76}, "75"),
    ({"noise_level": -1}, "0"),
    ({"noise_level": "high"}, "auto"),
    ({"noise_level": True}, "noise_level"),
    ({"model": "bm3d"}, "auto"),
    ({"model": "dncnn", "noise_level": 20}, "DnCNN is blind"),
])
def test_bad_denoise_parameters_are_422(server_app, step, words):
    recipe = json.dumps({"outputs": [{"steps": [{"op": "denoise", **step}]}]})
    response = server_app.test_client().post(
        "/api/v1/jobs", data={"file": (io.BytesIO(noisy_pair((32, 32))[1]), "n.png"),
                              "recipe": recipe}, content_type="multipart/form-data")
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert response.content_type == "application/problem+json"
    assert problem["field"].startswith("outputs.0.steps.0") and words in problem["detail"]


def test_noise_level_bounds_are_accepted():
    for level in (0, 75, 12.5, "auto"):
        parse(json.dumps({"outputs": [{"steps": [{"op": "denoise", "noise_level": level}]}]}),
              max_outputs=8, max_steps=12)


def submit(client, data: bytes, recipe: str) -> str:
    response = client.post(
        "/api/v1/jobs", data={"file": (io.BytesIO(data), "noisy.png"), "recipe": recipe},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


@pytest.mark.usefixtures("torch_available")
def test_denoise_runs_on_the_ml_consumer_then_hands_over(
    server_env, server_app, spawn, weights_path
):
    """The default (auto: FFDNet-clip for an 8-bit upload, at the estimated noise level),
    then the same upload with DnCNN; FFDNet's weights are found beside DnCNN's."""
    env = {**server_env, "PIXTOOLS_DNCNN_WEIGHTS": str(weights_path), "PIXTOOLS_DNCNN_TILE": "64",
           "PIXTOOLS_FFDNET_TILE": "64"}
    standard = spawn("worker", "standard", env=env)
    ml = spawn("worker", "ml", env=env)
    client = server_app.test_client()
    clean, noisy = noisy_pair()
    job_id = submit(client, noisy, DENOISE_RESIZE_PNG)
    dncnn_id = submit(client, noisy, DENOISE_RESIZE_PNG.replace(
        '{"op": "denoise"}', '{"op": "denoise", "model": "dncnn"}'))

    seen_progress: set[int] = set()

    def finished():
        body = client.get(f"/api/v1/jobs/{job_id}").get_json()
        seen_progress.add(body["outputs"][0]["steps"][0]["progress"])
        return body if body["status"] in ("succeeded", "failed") else None

    job = wait_for(finished, timeout=120, interval=0.05)
    assert job["status"] == "succeeded", (job, ml.output())
    output = job["outputs"][0]
    assert [s["status"] for s in output["steps"]] == ["succeeded"] * 3
    assert (output["width"], output["height"]) == (96, 64)
    assert len(seen_progress - {0, 100}) >= 1  # progress per tile (6 tiles of 64 px)
    # What ran, at what noise level, and that it was estimated (sigma 25, clipped to 8 bits).
    details = output["details"]["denoise"]
    assert details["model"] == "ffdnet-clip" and details["estimated"] is True, details
    assert 20 <= details["noise_level"] <= 26.5, details
    assert "fallback" not in details

    # The denoised result is much closer to the clean picture than the noisy upload.
    from pixtools.storage import get_storage

    result = get_storage(server_app).get(f"jobs/{job_id}/output-0.png")
    def small(pixels: np.ndarray) -> np.ndarray:
        image = Image.fromarray(pixels.astype(np.uint8))
        return np.asarray(image.resize((96, 64), Image.Resampling.LANCZOS))

    denoised = np.asarray(Image.open(io.BytesIO(result)).convert("RGB"))
    gain = psnr(denoised, small(clean)) - psnr(
        small(np.asarray(Image.open(io.BytesIO(noisy)))), small(clean)
    )
    assert gain > 3, gain

    other = wait_for(lambda: (b := client.get(f"/api/v1/jobs/{dncnn_id}").get_json())["status"]
                     in ("succeeded", "failed") and b, timeout=120)
    assert other["status"] == "succeeded", other
    assert other["outputs"][0]["details"]["denoise"]["model"] == "dncnn"

    # Only the ml worker ever loaded torch.
    assert "libtorch" in libraries_of(ml.proc.pid)
    assert "libtorch" not in libraries_of(standard.proc.pid)


@pytest.mark.usefixtures("torch_available")
def test_missing_weights_fail_the_job_with_what_to_run(server_env, server_app, spawn, tmp_path):
    env = {**server_env, "PIXTOOLS_DNCNN_WEIGHTS": str(tmp_path / "absent.pth")}
    spawn("worker", "standard", env=env)
    ml = spawn("worker", "ml", env=env)
    wait_for(lambda: "denoise unavailable" in ml.output(), timeout=60)
    assert "flask pixtools model fetch" in ml.output()
    client = server_app.test_client()
    job_id = submit(client, noisy_pair((32, 32))[1], DENOISE_RESIZE_PNG)
    job = wait_for(
        lambda: (b := client.get(f"/api/v1/jobs/{job_id}").get_json())["status"] == "failed" and b,
        timeout=60,
    )
    assert "not found" in job["error"] and "model fetch" in job["error"]
    assert ml.proc.poll() is None  # the consumer lives on


def test_web_app_never_imports_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pixtools import create_app\n"
        f"app = create_app({{'data_dir': {str(tmp_path)!r}, 'secret_key': 'x'}})\n"
        "app.test_client().get('/api/v1/operations')\n"
        "import pixtools.worker, pixtools.operations.denoise\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   cwd=Path(__file__).resolve().parents[2])


@pytest.mark.usefixtures("torch_available")
def test_auto_falls_back_to_dncnn_without_ffdnet_weights(
    server_env, server_app, spawn, weights_path, tmp_path
):
    env = {**server_env, "PIXTOOLS_DNCNN_WEIGHTS": str(weights_path),
           "PIXTOOLS_FFDNET_CLIP_WEIGHTS": str(tmp_path / "absent.pth")}
    spawn("worker", "standard", env=env)
    ml = spawn("worker", "ml", env=env)
    wait_for(lambda: "ffdnet_clip unavailable" in ml.output(), timeout=60)
    client = server_app.test_client()
    upload = noisy_pair((48, 32))[1]
    auto = submit(client, upload, DENOISE_RESIZE_PNG)
    chosen = submit(client, upload, DENOISE_RESIZE_PNG.replace(
        '{"op": "denoise"}', '{"op": "denoise", "model": "ffdnet", "noise_level": 20}'))

    def ended(job_id):
        body = client.get(f"/api/v1/jobs/{job_id}").get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    job = wait_for(lambda: ended(auto), timeout=120)
    assert job["status"] == "succeeded", job
    details = job["outputs"][0]["details"]["denoise"]
    assert details["model"] == "dncnn"
    assert "FFDNet unavailable" in details["fallback"] and "absent.pth" in details["fallback"]
    # Asked for by name, a missing FFDNet fails the step with what to run.
    failed = wait_for(lambda: ended(chosen), timeout=120)
    assert failed["status"] == "failed"
    assert "FFDNet-clip weights not found" in failed["error"] and "model fetch" in failed["error"]
