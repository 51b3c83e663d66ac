"""The page on a phone (375 × 812): "Process" stays on screen however long the recipe, and
the new card is brought into view after an upload; and a large upload over a slow link
shows its progress."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.images import make_image, noise_image
from tests.support.pages import PHONE, csp_violations, drop_files, shoot


def test_the_new_card_is_in_view_on_a_phone(desktop, new_page):
    server = desktop()
    page = new_page(viewport=PHONE)
    page.goto(server.base + "/")
    drop_files(page, "#dropzone", [("phone.jpg", make_image((640, 480)), "image/jpeg")])
    # Open the extra options so the form is at its longest: the bar still shows "Process".
    page.click(".group--more > summary")
    page.evaluate("window.scrollTo(0, document.getElementById('recipe').offsetTop + 200)")
    expect(page.locator("#submit")).to_be_in_viewport()
    history_top = page.evaluate(
        "document.getElementById('jobs').getBoundingClientRect().top + window.scrollY")
    assert history_top > PHONE["height"]  # the list starts below the first screen
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    expect(card).to_be_in_viewport()
    page.locator("#jobs .card[data-status='succeeded']").first.wait_for()
    expect(card).to_be_in_viewport()
    shoot(page, "phone-after-upload")
    assert csp_violations(page) == []


def test_a_slow_upload_shows_its_progress(desktop, new_page):
    server = desktop()
    page = new_page()
    page.goto(server.base + "/")
    # A slow link (about 1 MB/s up), as Chromium's DevTools emulate it.
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": 1_000_000})
    page.set_input_files("#file", [{"name": "large.png", "mimeType": "image/png",
                                    "buffer": noise_image((1000, 1000))}])
    page.click("#submit")
    page.wait_for_function("""() => {
        const bar = document.getElementById('upload-progress');
        return !bar.hidden && bar.value > 0 && bar.value < 100;
    }""", timeout=20_000)
    shoot(page.locator(".submit-bar"), "upload-progress-desktop")
    page.locator("#jobs .card").first.wait_for(timeout=60_000)
    expect(page.locator("#upload-progress")).to_be_hidden()
