"""The recipe builder in Chromium: steps are added with "+ Add step", moved and removed, and
the job made from the form runs exactly the steps shown, in the order shown."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.support.images import make_image
from tests.support.pages import PHONE, add_step, csp_violations, drop_files, shoot


def shown_steps(page: Any) -> list[str]:
    return page.locator("#steps > .op:not([hidden])").evaluate_all(
        "(items) => items.map((item) => item.dataset.op)")


def test_add_reorder_and_remove_steps_then_submit(desktop, new_page):
    server = desktop()
    page = new_page()
    page.goto(server.base + "/")
    assert shown_steps(page) == []
    for op in ("resize", "sharpen", "grayscale"):
        add_step(page, op)
    assert shown_steps(page) == ["resize", "sharpen", "grayscale"]
    # An added step leaves the menu; each section shows only its own parameters.
    page.click("#add-step > summary")
    expect(page.locator("[data-add='resize']")).to_be_hidden()
    expect(page.locator("[data-add='blur']")).to_be_visible()
    page.click("#add-step > summary")
    resize = page.locator("#steps > .op[data-op='resize']")
    names = resize.locator("[name^='resize.']").evaluate_all(
        "(fields) => [...new Set(fields.map((f) => f.name))]")
    assert names and all(name.startswith("resize.") for name in names)
    assert page.locator("#steps > .op[data-op='grayscale'] .op-controls").count() == 0

    page.click("[aria-label='Move grayscale up']")
    page.click("[aria-label='Move grayscale up']")
    assert shown_steps(page) == ["grayscale", "resize", "sharpen"]
    expect(page.locator("[aria-label='Move grayscale up']")).to_be_focused()
    page.click("[aria-label='Move resize down']")
    assert shown_steps(page) == ["grayscale", "sharpen", "resize"]
    page.click("[aria-label='Remove sharpen']")
    assert shown_steps(page) == ["grayscale", "resize"]
    assert "sharpen removed" in page.locator("#announcer").inner_text()
    shoot(page, "builder-desktop")

    # The server's own validation flags a bad value inline; the order survives the round trip.
    drop_files(page, "#dropzone", [("steps.jpg", make_image((400, 300)), "image/jpeg")])
    page.fill("#f-resize-width", "99999")
    page.click("#submit")
    page.locator("#f-resize-width-error").wait_for()
    assert "16384" in page.locator("#f-resize-width-error").inner_text()
    assert shown_steps(page) == ["grayscale", "resize"]
    shoot(page, "builder-error-desktop")

    page.fill("#f-resize-width", "200")
    sent = page.evaluate("""() => {
        const data = new FormData(document.getElementById('upload-form'));
        return {steps: data.getAll('step'), names: [...data.keys()]};
    }""")
    assert sent["steps"] == ["grayscale", "resize"]
    assert not any(name.startswith("sharpen.") for name in sent["names"])  # removed: not sent
    page.click("#submit")
    card = page.locator("#jobs .card").first
    card.wait_for()
    job_id = card.get_attribute("id").removeprefix("job-")
    page.locator(f"#job-{job_id}[data-status='succeeded']").wait_for()
    job = page.request.get(f"{server.base}/api/v1/jobs/{job_id}").json()
    (output,) = job["outputs"]
    assert [step["op"] for step in output["steps"]] == ["grayscale", "resize", "convert"]
    assert output["steps"][1]["params"]["width"] == 200
    assert (output["width"], output["height"]) == (200, 150)
    assert csp_violations(page) == []


def test_the_form_is_short_on_a_phone(desktop, new_page):
    server = desktop()
    page = new_page(viewport=PHONE)
    page.goto(server.base + "/")
    height = page.evaluate("document.getElementById('upload-form').offsetHeight")
    assert height < 1300, height  # it was about 3,100 px with every operation listed
    assert page.evaluate(  # nothing sticks out sideways (the presets scroll within their row)
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shoot(page, "home-phone")
