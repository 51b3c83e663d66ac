"""Presets and "Copy as curl" in Chromium: a built-in preset fills the builder, the page
makes a job from it, and the copied curl command, run by a script with an API key in
place of the page's identity, makes the same outputs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.images import make_image
from tests.support.pages import csp_violations, drop_files, shoot


def api_key(data_dir: Path) -> str:
    """A key made on the desktop server's own database, as its operator would."""
    from pixtools import apikeys, create_app

    app = create_app({"mode": "desktop", "data_dir": data_dir})
    with app.app_context():
        return apikeys.create("script").secret


def outputs(page: Any, url: str, headers: dict[str, str] | None = None) -> list[tuple]:
    """Each output of a finished job: format, size, bytes and the digest of its file."""
    job = page.request.get(url + "?wait=60", headers=headers or {}).json()
    assert job["status"] == "succeeded", job
    found = []
    for output in job["outputs"]:
        data = page.request.get(output["url"]).body()
        found.append((output["format"], output["width"], output["height"], output["bytes"],
                      hashlib.sha256(data).hexdigest()))
    return found


def test_a_preset_and_its_curl_make_the_same_outputs(desktop, new_page, tmp_path):
    server = desktop()
    page = new_page()
    page.goto(server.base + "/")
    page.click("[data-preset='thumbnail']")
    page.locator("[data-preset='thumbnail'][aria-current='true']").wait_for()
    assert page.locator("#steps > .op:not([hidden])").evaluate_all(
        "(items) => items.map((item) => item.dataset.op)") == ["resize"]
    assert page.input_value("#f-resize-width") == "320"
    assert page.input_value("#f-resize-height") == "320"
    assert page.is_checked("input[name='resize.mode'][value='fill']")
    assert page.input_value("#f-convert-quality-webp") == "70"
    shoot(page, "preset-thumbnail-desktop")

    image = make_image((900, 600))
    drop_files(page, "#dropzone", [("beach.jpg", image, "image/jpeg")])
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    job_id = card.get_attribute("id").removeprefix("job-")
    by_page = outputs(page, f"{server.base}/api/v1/jobs/{job_id}")
    assert [o[:3] for o in by_page] == [("webp", 320, 320)]

    page.click(".group--share > summary")
    page.click("[data-export='curl']")
    command = page.locator("[data-export-text='curl'][data-wanted]").inner_text()
    assert page.locator("[data-export-status]").inner_text().startswith("The curl command")
    (tmp_path / "image.jpg").write_bytes(image)
    key = api_key(server.data_dir)
    run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True,
                         env={**os.environ, "PIXTOOLS_API_KEY": key}, timeout=60, check=True)
    answer = json.loads(run.stdout)
    by_script = outputs(page, f"{server.base}/api/v1/jobs/{answer['id']}",
                        {"Authorization": f"Bearer {key}"})
    assert by_script == by_page
    # The script's job is the key's, not this browser's.
    assert page.request.get(f"{server.base}/api/v1/jobs/{answer['id']}").status == 404

    page.click("[data-export='json']")
    recipe = json.loads(page.locator("[data-export-text='json'][data-wanted]").inner_text())
    assert recipe["outputs"][0]["steps"][0] == {"op": "resize", "width": 320, "height": 320,
                                               "mode": "fill"}

    # Saved for this browser (Enter in the name saves it, and sends no images), it fills
    # the builder after a reload too.
    page.fill("#preset-name", "Square thumbs")
    page.press("#preset-name", "Enter")
    own = page.locator(".preset--own a", has_text="Square thumbs")
    own.wait_for()
    assert page.locator("#jobs .card").count() == 1
    page.reload()
    page.locator(".preset--own a", has_text="Square thumbs").click()
    page.locator(".preset--own a[aria-current='true']").wait_for()
    assert page.input_value("#f-resize-width") == "320"
    assert csp_violations(page) == []
