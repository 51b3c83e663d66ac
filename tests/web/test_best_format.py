""""Best format" in Chromium: the browser's formats are sent, the card shows what was
chosen, and the placeholder stands in until the result has loaded."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from PIL import Image

from tests.support.images import photo_like
from tests.support.pages import csp_violations, drop_files, image_format, shoot


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_best_format_shows_quality_score_format_and_a_placeholder(desktop, new_page):
    server = desktop()
    page = new_page()
    held: list[Any] = []
    # Result files are held back, so the card is seen as it is while they load.
    page.route(re.compile(r"/files/jobs/[^/]+/output-"), lambda route: held.append(route))
    page.goto(server.base + "/")
    # Chromium decodes both probes: every candidate is offered.
    page.wait_for_function(
        "() => document.querySelector('[data-candidates-text]').textContent === "
        "'AVIF, WEBP, JPEG'")
    assert page.get_attribute("input[data-candidates]", "value") == "avif, webp, jpeg"

    photo = photo_like("detailed", (360, 270), seed=7)
    drop_files(page, "#dropzone", [("garden.png", png_of(photo), "image/png")])
    page.uncheck("input[name='format'][value='webp']")
    page.check("input[name='format'][value='auto']")
    page.check("input[name='convert.quality_target'][value='medium']")
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    done = page.locator(f"#{card.get_attribute('id')}[data-status='succeeded']")
    done.wait_for(timeout=120_000)

    frame = done.locator("[data-placeholder]")
    placeholder = frame.locator("img.placeholder")
    assert placeholder.get_attribute("src").startswith("data:image/png;base64,")
    assert placeholder.evaluate("(img) => img.complete && img.naturalWidth > 0")
    assert "is-loaded" not in (frame.get_attribute("class") or "")
    colour = frame.get_attribute("data-colour")
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    assert frame.evaluate("(el) => getComputedStyle(el).backgroundColor") == (
        f"rgb({red}, {green}, {blue})")
    shoot(done, "best-format-loading-desktop")

    for route in held:
        route.continue_()
    page.route(re.compile(r"/files/jobs/[^/]+/output-"), lambda route: route.continue_())
    page.locator("[data-placeholder].is-loaded").wait_for()
    page.wait_for_function(  # faded out once the result is there
        "() => getComputedStyle(document.querySelector('[data-placeholder] .placeholder'))"
        ".opacity === '0'")
    assert frame.evaluate("(el) => el.style.backgroundColor") == ""

    chosen = done.locator(".fact-format").inner_text().lower()
    assert chosen in ("avif", "webp", "jpeg")
    assert done.locator(".fact-formats").inner_text() == "AVIF, WEBP, JPEG"
    quality = int(done.locator(".fact-quality").inner_text().removeprefix("auto: "))
    assert 0 <= quality <= 100
    score, target = done.locator(".fact-score").inner_text().split(" / ")
    assert target == "50" and float(score) >= 49
    link = done.locator("a.btn--download")
    assert link.get_attribute("data-format") == chosen
    with page.expect_download() as info:
        link.click()
    data = Path(info.value.path()).read_bytes()
    assert image_format(data) == (chosen.upper(), (360, 270))
    shoot(done, "best-format-result-desktop")
    assert csp_violations(page) == []
