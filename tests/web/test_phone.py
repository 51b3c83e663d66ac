"""The page on a phone (375 × 812): "Process" stays on screen however long the recipe, and
the new card is brought into view after an upload."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.images import make_image
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
