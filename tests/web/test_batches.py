"""A batch in Chromium: five images in one upload, one of them damaged. The batch header
shows overall progress while the jobs run, its ZIP holds the four good outputs, and the
failed one is retried (made anew, in the same batch, in its card's place)."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

from tests.support.images import make_image
from tests.support.pages import (
    PHONE,
    csp_violations,
    feed_pipe,
    image_format,
    plant_blocker,
    shoot,
)

WATCH_BATCH = """() => {
  window.__batch = [];
  new MutationObserver(() => {
    const header = document.querySelector('.batch');
    const seen = header && header.dataset.finished + '/' + header.dataset.total;
    if (seen && seen !== window.__batch[window.__batch.length - 1]) window.__batch.push(seen);
  }).observe(document.getElementById('jobs'), {childList: true, subtree: true, attributes: true});
}"""

PASTE = """(data) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], 'image.png', {type: 'image/png'}));
  document.body.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer,
                                                           bubbles: true}));
}"""


def download(page: Any, link: Any) -> bytes:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def test_a_batch_with_one_failure(desktop, new_page):
    server = desktop()
    blocker = plant_blocker(server.data_dir)  # the jobs wait in line until we let it go
    page = new_page()
    page.goto(server.base + "/")
    jpeg = make_image((320, 240))
    files = [(f"photo-{n}.jpg", make_image((200 + 40 * n, 150)), "image/jpeg") for n in range(4)]
    files.insert(2, ("damaged.jpg", jpeg[: len(jpeg) // 2], "image/jpeg"))
    page.set_input_files("#file", [{"name": n, "mimeType": t, "buffer": b} for n, b, t in files])
    # An image pasted from the clipboard joins them (and is taken off again).
    page.evaluate(PASTE, base64.b64encode(make_image((20, 20), fmt="PNG")).decode())
    assert page.locator("#previews li").count() == 6
    assert page.locator("#previews .preview-name").last.inner_text() == "pasted-1.png"
    page.click("[aria-label='Remove pasted-1.png']")
    assert page.locator("#previews li").count() == 5

    page.click("#submit")
    header = page.locator("#jobs > .batch")
    header.wait_for()
    assert header.get_attribute("data-total") == "5"
    assert header.locator("[data-batch-counts]").inner_text() == "0 done · 5 to go"
    assert header.locator("progress").get_attribute("value") == "0"
    page.evaluate(WATCH_BATCH)
    shoot(header, "batch-queued-desktop")
    feed_pipe(blocker, make_image((8, 8), fmt="PNG"))

    page.locator("#jobs > .batch[data-finished='5']").wait_for(timeout=60_000)
    seen = page.evaluate("window.__batch")
    assert seen[-1] == "5/5" and len(seen) >= 2, seen  # it moved while the jobs ran
    assert header.locator("[data-batch-counts]").inner_text() == "4 done · 1 failed"
    assert header.locator("progress").get_attribute("value") == "100"
    assert header.get_attribute("hx-trigger") == "pixtools:batch-changed from:body"
    shoot(header, "batch-finished-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "batch-finished-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    archive = zipfile.ZipFile(io.BytesIO(download(page, header.locator("[data-batch-zip]"))))
    assert sorted(archive.namelist()) == [f"photo-{n}-1.webp" for n in range(4)]
    assert [image_format(archive.read(f"photo-{n}-1.webp")) for n in range(4)] == [
        ("WEBP", (200 + 40 * n, 150)) for n in range(4)]

    failed = page.locator("#jobs .card[data-status='failed']")
    old_id = failed.get_attribute("id")
    header.locator("[data-batch-retry]").click()
    page.locator(f"#{old_id}").wait_for(state="detached")
    again = page.locator("#jobs .card", has_text="damaged.jpg")
    again.wait_for()
    assert again.get_attribute("id") != old_id
    # The header heard of it: it follows the new job until that has ended (failed again:
    # the image itself is damaged), and still counts five.
    page.locator("#jobs > .batch[data-finished='5']").wait_for(timeout=60_000)
    page.locator("#jobs .card[data-status='failed']", has_text="damaged.jpg").wait_for()
    assert header.get_attribute("data-total") == "5"
    assert page.request.get(f"{server.base}/jobs/{old_id.removeprefix('job-')}").status == 404
    assert "damaged" in again.locator(".error-message").first.inner_text()
    # A single failed card has its own Retry too.
    newer = again.get_attribute("id")
    again.locator("[data-retry]").click()
    page.locator(f"#{newer}").wait_for(state="detached")
    page.locator("#jobs .card[data-status='failed']", has_text="damaged.jpg").wait_for()
    archive = zipfile.ZipFile(io.BytesIO(download(page, header.locator("[data-batch-zip]"))))
    assert len(archive.namelist()) == 4
    assert csp_violations(page) == []
