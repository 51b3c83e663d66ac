"""Compare in Chromium: the split view of a WebP output against its original. What the two
halves of the frame show is read from screenshots: the divider (dragged with the pointer,
moved with the keyboard) and the zoom change them."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from tests.support.images import noise_image
from tests.support.pages import PHONE, csp_violations, drop_files, shoot


def halves(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """The frame's left and right halves as pixels (the divider line's column left out),
    with nothing focused (a focus ring is not what the picture shows)."""
    frame.page.evaluate("document.activeElement && document.activeElement.blur()")
    pixels = np.asarray(Image.open(io.BytesIO(frame.screenshot(animations="disabled")))
                        .convert("RGB"), dtype=np.int16)
    middle = pixels.shape[1] // 2
    return pixels[:, : middle - 24], pixels[:, middle + 24 :]


def changed(before: np.ndarray, after: np.ndarray) -> float:
    """The share of pixels that differ clearly between two screenshots of one region."""
    return float((np.abs(before - after).max(axis=2) > 24).mean())


def drag_divider(page: Any, frame: Any, to: float) -> None:
    """Take the divider's handle where it is and drop it at ``to`` of the frame's width."""
    box = frame.bounding_box()
    y = box["y"] + box["height"] / 2
    at = int(frame.locator("[data-compare-range]").input_value()) / 100
    page.mouse.move(box["x"] + box["width"] * at, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * to, y, steps=8)
    page.mouse.up()


def test_compare_a_webp_output_with_its_original(desktop, new_page):
    server = desktop()
    page = new_page()
    page.goto(server.base + "/")
    drop_files(page, "#dropzone", [("grain.png", noise_image((800, 600)), "image/png")])
    page.fill("#f-convert-quality-webp", "5")  # a WebP that looks nothing like its original
    page.click("#submit")
    done = page.locator("#jobs .card[data-status='succeeded']").first
    done.wait_for(timeout=60_000)
    compare = done.locator("[data-compare]")
    frame = compare.locator(".compare-frame")
    page.wait_for_function("""() => [...document.querySelectorAll('.compare-layer img')]
        .every((img) => img.complete && img.naturalWidth > 0)""")
    # The output's facts sit beside it: format, size and what it saved.
    assert done.locator(".fact-format").inner_text() == "WEBP"
    assert done.locator(".saving").inner_text().startswith("−")
    slider = compare.locator("[data-compare-range]")
    assert slider.evaluate("(el) => el.type") == "range"  # a slider to assistive technology
    assert slider.get_attribute("aria-label").startswith("Divider")
    left, right = halves(frame)
    shoot(done, "compare-fit-desktop")

    # Dragging the divider left: the left half now shows the output where it showed the
    # original; the right half shows the output as before.
    drag_divider(page, frame, 0.1)
    assert int(slider.input_value()) <= 15
    left_now, right_now = halves(frame)
    assert changed(left, left_now) > 0.3
    assert changed(right, right_now) < 0.02
    # And right: now the right half shows the original.
    drag_divider(page, frame, 0.9)
    assert int(slider.input_value()) >= 85
    left_now, right_now = halves(frame)
    assert changed(right, right_now) > 0.3
    # The keyboard moves it too (arrow keys on the slider).
    slider.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "1"
    slider.fill("50")
    assert changed(left, halves(frame)[0]) < 0.02

    # 1:1 shows both sides magnified: each half changes, and both layers share one view.
    compare.locator("[data-zoom='1']").click()
    assert compare.locator("[data-zoom='1']").get_attribute("aria-pressed") == "true"
    assert compare.locator("[data-zoom-level]").inner_text() == "100%"
    zoomed_left, zoomed_right = halves(frame)
    assert changed(left, zoomed_left) > 0.3 and changed(right, zoomed_right) > 0.3
    transforms = compare.locator(".compare-layer img").evaluate_all(
        "(images) => images.map((img) => img.style.transform)")
    assert transforms[0] and transforms[0] == transforms[1]

    # Panning (dragging the picture away from the divider) moves both sides together.
    box = frame.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.8)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.3, steps=8)
    page.mouse.up()
    panned = compare.locator(".compare-layer img").evaluate_all(
        "(images) => images.map((img) => img.style.transform)")
    assert panned[0] != transforms[0] and panned[0] == panned[1]
    panned_left, panned_right = halves(frame)
    assert changed(zoomed_left, panned_left) > 0.3 and changed(zoomed_right, panned_right) > 0.3
    assert slider.input_value() == "50"  # panning left the divider alone
    shoot(done, "compare-zoomed-desktop")

    compare.locator("[data-zoom='fit']").click()
    assert changed(left, halves(frame)[0]) < 0.02
    page.set_viewport_size(PHONE)
    shoot(page.locator(".card").first, "compare-phone")
    assert csp_violations(page) == []
