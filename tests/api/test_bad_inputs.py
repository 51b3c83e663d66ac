"""Every input of the generated bad-input corpus, through the API and real consumers.

Each must end as a 4xx with a clear message, a failed job with a clear reason, or (for odd
but valid images) a finished job — never a 500, a dead consumer or a job left running.
Run with ``-s`` to see the table of input → outcome.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.corpus import generate

# Pillow warns while reading the corpus's broken EXIF block; the test is about the outcome.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data")

# What each case must come to: an HTTP status with words from the message, or a job
# status with words from its reason.
EXPECTED: dict[str, tuple[int | str, str]] = {
    "zero_bytes.jpg": (415, "empty"),
    "truncated_jpeg.jpg": ("failed", "damaged"),
    "truncated_png.png": ("failed", "damaged"),
    "truncated_webp.webp": (415, "not an image"),
    "truncated_gif.gif": ("failed", "damaged"),
    "header_only.jpg": ("failed", "damaged"),
    "text_named.jpg": (415, "not an image"),
    "html_named.jpg": (415, "not an image"),
    "svg_named.jpg": (415, "not an image"),
    "jpeg_magic_then_html.jpg": (415, "not an image"),
    "pixel_flood_64250.jpg": (422, "more pixels than the limit of 64 megapixels"),
    "pixel_flood_20000.jpg": (422, "more pixels than the limit of 64 megapixels"),
    "claims_4000_truncated.jpg": ("succeeded", ""),
    "png_bomb.png": (422, "decompression bomb"),
    "png_text_bomb.png": (415, "not an image"),
    "gif_10000_frames.gif": (422, "more than 300 frames"),
    "apng_claims_million_frames.png": (422, "more than 300 frames"),
    "tiff_500_pages.tiff": (422, "more than 300 pages"),
    "tiff_3_pages.tiff": ("succeeded", ""),
    "corrupt_icc.jpg": ("succeeded", ""),
    "exif_orientation_9.jpg": ("succeeded", ""),
    "exif_orientation_65535.jpg": ("succeeded", ""),
    "exif_two_blocks.jpg": ("succeeded", ""),
    "exif_garbage.jpg": ("succeeded", ""),
    "cmyk.jpg": ("succeeded", ""),
    "png_16bit.png": ("succeeded", ""),
    "float.tiff": ("succeeded", ""),
    "palette_transparency.png": ("succeeded", ""),
    "one_bit.bmp": ("succeeded", ""),
    "one_by_one.png": ("succeeded", ""),
    "one_by_65000.png": (422, "at most 30000 pixels"),
    "thin_upscaled.png": ("failed", "results may be at most 16384 pixels a side"),
    "polyglot.gif": ("succeeded", ""),
    "jpeg_zip_polyglot.jpg": ("succeeded", ""),
    "eps_named.jpg": (415, "not an image"),
    "pdf_named.jpg": (415, "not an image"),
    "ico_named.png": (415, "not an image"),
    "hostile_name.jpg": ("succeeded", ""),
    "long_name.jpg": ("succeeded", ""),
    "two_files.http": (400, "one image per job"),
    "not_multipart.http": (400, "as multipart/form-data"),
    "unterminated_multipart.http": (422, "recipe is missing"),
    "no_recipe.http": (422, "recipe is missing"),
    "huge_recipe.recipe.json": (422, "larger than 64 KB"),
    "enormous_recipe.recipe.json": (413, "recipe may be at most 64 KB"),
    "deep_nesting.recipe.json": (422, "nests too deeply"),
    "long_number.recipe.json": (422, "absurdly long number"),
    "wrong_types.recipe.json": (422, "outputs.0.steps.0.width"),
    "outputs_not_list.recipe.json": (422, "outputs must be a non-empty list"),
    "step_not_object.recipe.json": (422, "must be an object"),
    "nan_quality.recipe.json": (422, "outputs.0.steps.0.quality"),
    "negative_size.recipe.json": (422, "greater than or equal to 1"),
    "zero_size.recipe.json": (422, "greater than or equal to 1"),
    "unknown_op.recipe.json": (422, "unknown operation"),
    "op_not_string.recipe.json": (422, "op is missing"),
    "huge_upscale.recipe.json": (422, "268.4 megapixels"),
    "rotate_bomb.png": ("failed", "rotate would make the image"),
}
FINISHED = ("succeeded", "failed")


def send(client: Any, folder: Path, entry: dict[str, str], headers: dict[str, str]) -> Any:
    name = entry["name"]
    path = folder / name
    if name.endswith(".http"):
        head, body = path.read_bytes().split(b"\r\n\r\n", 1)
        content_type = head.decode().removeprefix("Content-Type: ")
        return client.post("/api/v1/jobs", data=body, content_type=content_type,
                           headers=headers)
    if name.endswith(".recipe.json"):
        upload, filename, recipe = generate.jpeg(), "photo.jpg", path.read_text()
    else:
        sidecar = folder / (name + ".recipe.json")
        upload, filename = path.read_bytes(), entry["filename"]
        recipe = sidecar.read_text() if sidecar.exists() else generate.DEFAULT_RECIPE
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(upload), filename), "recipe": recipe},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_every_bad_input_ends_cleanly(server_app, consumers, tmp_path):
    from pixtools import apikeys
    from pixtools.db import db
    from pixtools.models import Job

    folder = tmp_path / "corpus"
    manifest = generate.write(folder)
    assert len(manifest) >= 30
    assert {entry["name"] for entry in manifest} == set(EXPECTED)
    headers = {"Authorization": f"Bearer {apikeys.create('corpus').secret}"}
    client = server_app.test_client()

    outcomes: dict[str, tuple[int | str, str]] = {}
    jobs: dict[str, str] = {}
    for entry in manifest:
        response = send(client, folder, entry, headers)
        body = response.get_json(silent=True)
        assert response.status_code != 500 and body is not None, (entry["name"], response.data)
        if response.status_code == 202:
            jobs[entry["name"]] = body["id"]
        else:
            assert body["message"], entry["name"]
            outcomes[entry["name"]] = (response.status_code, body["message"])

    deadline = time.monotonic() + 120
    while jobs and time.monotonic() < deadline:
        for name, job_id in list(jobs.items()):
            job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
            if job["status"] in FINISHED:
                outcomes[name] = (job["status"], job["error"] or "")
                if job["status"] == "succeeded":
                    check_results(name, job)
                del jobs[name]
        time.sleep(0.2)

    table = [f"{'input':34} {'outcome':10} message or reason"]
    for entry in manifest:
        outcome, text = outcomes.get(entry["name"], ("STUCK", ""))
        table.append(f"{entry['name']:34} {outcome!s:10} {text[:110]}")
    print("\n" + "\n".join(table))

    assert not jobs, f"jobs never finished: {jobs}\n" + "\n".join(c.output() for c in consumers)
    for name, (outcome, words) in EXPECTED.items():
        got, text = outcomes[name]
        assert got == outcome and words in text, (name, got, text)
    # Nothing crashed a consumer, and nothing is left running.
    assert all(c.proc.poll() is None for c in consumers), [c.output() for c in consumers]
    db.session.expire_all()
    assert db.session.query(Job).filter(Job.status.notin_(FINISHED)).count() == 0


def check_results(name: str, job: dict[str, Any]) -> None:
    """A finished job's results are real, re-encoded images with safe names."""
    for output in job["outputs"]:
        reply = requests.get(output["url"], timeout=10)
        assert reply.status_code == 200, name
        assert len(reply.content) == output["bytes"]
        assert b"<script" not in reply.content and b"<?php" not in reply.content, name
        disposition = reply.headers["Content-Disposition"]
        filename = disposition.split('filename="', 1)[1].rstrip('"')
        assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in filename), disposition
    assert json.dumps(job)  # the job itself serialises (names with odd characters included)
