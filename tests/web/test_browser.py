"""The page in a real browser: Debian's Chromium against ``pixtools desktop`` subprocesses.

Nothing here waits by sleeping: "queued" and "running" are held by named pipes that the
worker reads (see ``plant_blocker``), and expiry comes from moving the server's clock.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.support.images import make_image, noise_image
from tests.support.pages import (
    DESKTOP,
    PHONE,
    add_step,
    csp_violations,
    drop_files,
    feed_pipe,
    image_format,
    pipe_in_place_of,
    plant_blocker,
    shoot,
)

RECORD_STATUSES = """(id) => {
  window.__seen = [document.getElementById(id).dataset.status];
  new MutationObserver(() => {
    const card = document.getElementById(id);
    if (card && card.dataset.status !== window.__seen[window.__seen.length - 1]) {
      window.__seen.push(card.dataset.status);
    }
  }).observe(document.getElementById('jobs'), {childList: true, subtree: true});
}"""

UNLABELLED_CONTROLS = """() => Array.from(
    document.querySelectorAll('input, select, textarea, button'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 80))"""


def fits_width(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ))


def download(page: Any, link: Any) -> bytes:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def test_drop_watch_it_run_download_reload_and_delete(desktop, new_page, tmp_path):
    server = desktop()
    blocker = plant_blocker(server.data_dir)  # holds the only worker until we feed it
    page = new_page()
    page.goto(server.base + "/")
    assert page.evaluate(UNLABELLED_CONTROLS) == []

    drop_files(page, "#dropzone", [("holiday photo.jpg", make_image((1200, 900)), "image/jpeg")])
    previews = page.locator("#previews li")
    assert previews.count() == 1
    assert previews.first.locator(".preview-name").inner_text() == "holiday photo.jpg"
    assert page.locator("#submit").inner_text() == "Process 1 image"
    page.check("input[name='format'][value='avif']")  # WebP is on already
    add_step(page, "resize")
    page.fill("#f-resize-width", "600")
    shoot(page, "upload-page-desktop")
    page.set_viewport_size(PHONE)
    assert fits_width(page)
    shoot(page, "upload-page-phone")
    page.set_viewport_size(DESKTOP)

    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    job_id = card.get_attribute("id").removeprefix("job-")
    assert card.get_attribute("data-status") == "queued"
    assert card.get_attribute("hx-trigger") == "every 1s"
    assert previews.count() == 0  # the picker is cleared once the server has the files
    page.evaluate(RECORD_STATUSES, f"job-{job_id}")

    # Our job's source becomes a pipe before the worker can read it; then let the worker go.
    original = pipe_in_place_of(server.source(job_id))
    feed_pipe(blocker, make_image((8, 8), fmt="PNG"))
    feed_pipe(server.source(job_id), original)  # output 1 runs; output 2 then waits
    running = page.locator(f"#job-{job_id}[data-status='running']")
    running.locator(".output--succeeded").wait_for()
    assert running.locator(".badge").inner_text().lower() == "running"
    # Output 2 is already claimed by the worker, which waits for its source to arrive.
    waiting = running.locator(".output--running")
    waiting.wait_for()
    assert waiting.locator(".step-row").count() == 2
    assert "50%" in running.locator(".job-progress-text").inner_text()
    shoot(running, "running-card-desktop")
    page.set_viewport_size(PHONE)
    shoot(page.locator(f"#job-{job_id}"), "running-card-phone")
    page.set_viewport_size(DESKTOP)

    feed_pipe(server.source(job_id), original)  # output 2 runs
    done = page.locator(f"#job-{job_id}[data-status='succeeded']")
    done.wait_for()
    assert page.evaluate("window.__seen") == ["queued", "running", "succeeded"]
    assert done.get_attribute("hx-trigger") is None  # finished: it stopped polling itself
    assert done.locator("[data-compare] img.result-image").count() == 2

    links = done.locator("a.btn--download")
    expected = {"webp": ("WEBP", (600, 450)), "avif": ("AVIF", (600, 450))}
    assert sorted(links.nth(i).get_attribute("data-format") for i in range(2)) == sorted(expected)
    for i in range(2):
        link = links.nth(i)
        assert image_format(download(page, link)) == expected[link.get_attribute("data-format")]

    bundle = done.locator("a[data-bundle]")
    assert bundle.get_attribute("href") == f"/api/v1/jobs/{job_id}/bundle.zip"
    archive = zipfile.ZipFile(io.BytesIO(download(page, bundle)))
    images = [n for n in archive.namelist() if not n.endswith(".json")]
    assert sorted(image_format(archive.read(n))[0] for n in images) == ["AVIF", "WEBP"]

    shoot(done, "results-card-desktop")
    page.set_viewport_size(PHONE)
    assert fits_width(page)
    shoot(page.locator(f"#job-{job_id}"), "results-card-phone")
    page.set_viewport_size(DESKTOP)

    page.reload()
    assert page.locator(f"#job-{job_id}").get_attribute("data-status") == "succeeded"

    stranger = new_page()
    stranger.goto(server.base + "/")
    assert stranger.locator(f"#job-{job_id}").count() == 0
    assert stranger.request.get(f"{server.base}/jobs/{job_id}").status == 404

    page.locator(f"#job-{job_id} .delete-form button").click()  # confirm() is accepted
    page.locator(f"#job-{job_id}").wait_for(state="detached")
    assert server.files(f"jobs/{job_id}") == [], server.process.output()[-3000:]
    page.reload()
    assert page.locator(f"#job-{job_id}").count() == 0
    assert csp_violations(page) == []


def test_inline_errors_refused_files_and_a_failed_job(desktop, new_page):
    server = desktop(env={"PIXTOOLS_MAX_UPLOAD_BYTES": "2000000",
                          "PIXTOOLS_MAX_PIXELS": "4000000"})
    page = new_page()
    page.goto(server.base + "/")
    jpeg = make_image((320, 240))
    too_many_pixels = make_image((2500, 2000), fmt="PNG", mode="L")
    assert len(too_many_pixels) < 2_000_000
    files = [
        ("good.png", make_image((64, 48), fmt="PNG"), "image/png"),
        ("notes.txt", b"shopping list", "text/plain"),
        ("noise.png", noise_image((1000, 1000)), "image/png"),
        ("poster.png", too_many_pixels, "image/png"),
        ("broken.jpg", jpeg[: len(jpeg) // 2], "image/jpeg"),
    ]
    page.set_input_files("#file", [{"name": n, "mimeType": t, "buffer": b} for n, b, t in files])
    assert page.locator("#previews li").count() == 5

    # A bad parameter: the form comes back with the message next to the field.
    add_step(page, "resize")
    page.fill("#f-resize-width", "99999")
    page.click("#submit")
    error = page.locator("#f-resize-width-error")
    error.wait_for()
    assert "16384" in error.inner_text()
    assert page.get_attribute("#f-resize-width", "aria-invalid") == "true"
    expect(page.locator("#f-resize-width")).to_be_focused()
    assert page.locator("#jobs .card").count() == 0
    assert page.locator("#previews li").count() == 5  # the chosen files are kept
    shoot(page, "recipe-error-desktop")

    page.fill("#f-resize-width", "300")
    page.click("#submit")
    page.locator("#jobs .card").nth(4).wait_for()
    assert page.locator("#f-resize-width-error").count() == 0
    refused = {
        card.locator(".card-title").inner_text(): card.locator(".error").get_attribute("data-error")
        for card in page.locator(".card--rejected").all()
    }
    assert refused == {"notes.txt": "unsupported_media_type",
                       "noise.png": "payload_too_large", "poster.png": "image_rejected"}
    poster = page.locator(".card--rejected", has_text="poster.png")
    assert "megapixels" in poster.locator(".error-message").inner_text()

    good = page.locator(".card", has_text="good.png")
    broken = page.locator(".card", has_text="broken.jpg")
    good.and_(page.locator("[data-status='succeeded']")).wait_for()
    broken.and_(page.locator("[data-status='failed']")).wait_for()
    reason = broken.locator(".error-message").first.inner_text()
    assert "damaged" in reason and "truncated" in reason
    assert broken.locator(".step-error").first.inner_text().startswith("The image data is damaged")
    assert broken.locator("a.btn--download").count() == 0
    shoot(broken, "failed-card-desktop")

    page.locator(".card--rejected", has_text="notes.txt").locator("[data-dismiss]").click()
    assert page.locator(".card--rejected").count() == 2
    assert csp_violations(page) == []


def test_history_survives_a_restart_and_expires_by_the_clock(desktop, new_page):
    server = desktop()
    page = new_page()
    # Playwright subscribes to file-chooser events without waiting for the browser to
    # confirm; subscribing before the page loads keeps the Space press below from racing it.
    page.on("filechooser", lambda chooser: None)
    page.goto(server.base + "/")
    # The drop zone works from the keyboard: focus lands in it and Space opens the picker.
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # wordmark
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"
    outline = page.evaluate("getComputedStyle(document.getElementById('dropzone')).outlineStyle")
    assert outline == "solid"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([{"name": "kept.png", "mimeType": "image/png",
                              "buffer": make_image((40, 30), fmt="PNG")}])
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    job_id = card.get_attribute("id").removeprefix("job-")
    page.locator(f"#job-{job_id}[data-status='succeeded']").wait_for()
    assert "expires in 23 h" in card.locator("time").inner_text()
    server.stop()

    # With the server gone, sending says so next to the button and keeps the files chosen.
    page.set_input_files("#file", [{"name": "later.png", "mimeType": "image/png",
                                    "buffer": make_image((20, 20), fmt="PNG")}])
    page.click("#submit")
    status = page.locator("#form-status")
    expect(status).to_be_visible()
    assert "could not be reached" in status.inner_text()
    assert page.locator("#previews li").count() == 1

    # A day and an hour later (by configuration), on the same data: the card is still
    # there, now expired and without any link, whether or not cleanup has run.
    later = desktop(data_dir=server.data_dir,
                    env={"PIXTOOLS_CLOCK_OFFSET_SECONDS": str(25 * 3600)})
    page.goto(later.base + "/")
    expired = page.locator(f"#job-{job_id}")
    assert expired.get_attribute("data-status") == "expired"
    assert expired.locator(".badge").inner_text().lower() == "expired"
    assert "expired 1 h" in expired.locator("time").inner_text()
    assert expired.locator("a").count() == 0
    assert expired.locator("img").count() == 0
    assert expired.get_attribute("hx-trigger") is None
    shoot(expired, "expired-card-desktop")
    page.goto(f"{later.base}/jobs/{job_id}")
    assert page.locator(f"#job-{job_id}").get_attribute("data-status") == "expired"
    assert page.locator(f"#job-{job_id} a").count() == 0
    assert csp_violations(page) == []


def grainy_photo(size: tuple[int, int]) -> bytes:
    """A smooth picture with strong sensor-like noise (σ = 25)."""
    import numpy as np

    clean = np.asarray(Image.open(io.BytesIO(make_image(size, fmt="PNG"))), dtype=np.float64)
    noisy = clean + np.random.default_rng(0).normal(0, 25, clean.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_denoise_shows_its_progress_and_a_before_after(torch_available, desktop, new_page,
                                                        weights_path):
    # Small tiles make many progress reports on a modest image.
    server = desktop(env={"PIXTOOLS_DNCNN_WEIGHTS": str(weights_path),
                          "PIXTOOLS_DNCNN_TILE": "64", "PIXTOOLS_FFDNET_TILE": "64"})
    page = new_page()
    page.goto(server.base + "/")
    drop_files(page, "#dropzone", [("grainy.png", grainy_photo((480, 360)), "image/png")])
    add_step(page, "denoise")
    # The noise level: Auto by default; moving the slider sets a level, Auto brings it back.
    auto = page.locator("#f-denoise-noise_level-auto")
    level = page.locator("#f-denoise-noise_level")
    shown = page.locator("#f-denoise-noise_level-value")
    assert auto.is_checked() and shown.text_content() == "auto"
    level.fill("40")
    assert not auto.is_checked() and shown.text_content() == "40"
    auto.check()
    assert shown.text_content() == "auto"
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    job_id = card.get_attribute("id").removeprefix("job-")

    # The denoise step's own bar moves while the step runs, without a reload.
    page.wait_for_function(
        """(id) => {
            const bar = document.querySelector(`#${id} progress[aria-label='denoise progress']`);
            return bar && bar.value > 0 && bar.value < 100;
        }""",
        arg=f"job-{job_id}", timeout=120_000,
    )
    shoot(page.locator(f"#job-{job_id}"), "denoise-running-desktop")
    done = page.locator(f"#job-{job_id}[data-status='succeeded']")
    done.wait_for(timeout=180_000)
    # The card says which model ran and at what (estimated) noise level.
    fact = done.locator(".fact-denoise").inner_text()
    assert fact.startswith("FFDNet (clipped noise), σ ") and fact.endswith("(estimated)"), fact
    assert 18 <= float(fact.split("σ ")[1].split(" ")[0]) <= 27, fact
    compare = done.locator("[data-compare]")
    assert compare.count() == 1
    assert compare.locator("img.compare-before").get_attribute("src")
    assert compare.locator("img.compare-after").get_attribute("src")
    compare.locator("[data-compare-range]").fill("20")
    shoot(done, "denoise-result-desktop")
    assert csp_violations(page) == []
