"""axe-core (npm, run inside Chromium) finds no serious or critical accessibility
violations on the page in each of its states: home, a recipe error, a running job, a
finished job with its compare, and a failed job. Each state is also shot at desktop and
phone width into test-artifacts/."""

from __future__ import annotations

from typing import Any

from tests.support.environment import REPO, service_missing
from tests.support.images import make_image
from tests.support.pages import (
    DESKTOP,
    PHONE,
    add_step,
    csp_violations,
    feed_pipe,
    pipe_in_place_of,
    plant_blocker,
    shoot,
)

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
}"""

SETTLED = "() => document.getAnimations().every((a) => a.playState !== 'running')"


def scan(page: Any, state: str) -> list[str]:
    """axe's serious and critical findings, at desktop and phone width; shots of both."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the page's CSP does not apply to it.
        page.evaluate(AXE.read_text())
    found = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        # A card swapped in fades in from 40 % opacity for 160 ms: judge the settled page,
        # not a frame of that animation.
        page.wait_for_function(SETTLED)
        found += [f"{state}/{name}: {v}" for v in page.evaluate(SERIOUS)]
        shoot(page, f"state-{state}-{name}")
    page.set_viewport_size(DESKTOP)
    return found


def upload(page: Any, name: str, data: bytes) -> Any:
    page.set_input_files("#file", [{"name": name, "mimeType": "image/jpeg", "buffer": data}])
    page.click("#submit")
    card = page.locator("#jobs .card", has_text=name).first
    card.wait_for()
    return card


def test_no_serious_or_critical_violations_in_any_state(desktop, new_page):
    if not AXE.exists():
        service_missing("npm's axe-core in node_modules (`npm ci` installs it)")
    server = desktop()
    blocker = plant_blocker(server.data_dir)
    page = new_page()
    page.goto(server.base + "/")
    found = scan(page, "home")

    add_step(page, "resize")
    page.fill("#f-resize-width", "99999")
    page.set_input_files("#file", [{"name": "big.jpg", "mimeType": "image/jpeg",
                                    "buffer": make_image((64, 48))}])
    page.click("#submit")
    page.locator("#f-resize-width-error").wait_for()
    found += scan(page, "recipe-error")

    page.fill("#f-resize-width", "300")
    card = upload(page, "big.jpg", make_image((640, 480)))
    job_id = card.get_attribute("id").removeprefix("job-")
    original = pipe_in_place_of(server.source(job_id))
    feed_pipe(blocker, make_image((8, 8), fmt="PNG"))
    page.locator(f"#job-{job_id}[data-status='running']").wait_for()
    found += scan(page, "running")

    feed_pipe(server.source(job_id), original)
    page.locator(f"#job-{job_id}[data-status='succeeded'] [data-compare]").wait_for()
    found += scan(page, "finished")

    jpeg = make_image((320, 240))
    upload(page, "damaged.jpg", jpeg[: len(jpeg) // 2])
    page.locator("#jobs .card[data-status='failed']").wait_for()
    found += scan(page, "failed")
    assert found == []
    assert csp_violations(page) == []
