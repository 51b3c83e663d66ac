"""The sandbox in a real browser (Debian's Chromium) against ``pixtools desktop``."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.environment import free_port, wait_for
from tests.support.images import make_image


def test_sandbox_in_the_browser(tmp_path: Path, spawn, browser):
    port = free_port()
    desktop = spawn("desktop", "--no-browser", "--port", str(port), "--data-dir",
                    str(tmp_path / "data"))
    wait_for(lambda: "running at" in desktop.output(), timeout=60)
    base = f"http://127.0.0.1:{port}"
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(make_image((64, 48)))

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/sandbox")
        page.get_by_role("button", name="Create a sandbox").click()
        page.wait_for_url(f"{base}/sandbox/*")
        sandbox_url = page.locator("code.sandbox-url").inner_text()
        assert sandbox_url.startswith(f"{base}/api/v1/hooks/sandbox/")
        assert page.get_by_text("Nothing received yet").is_visible()

        # One click: the "send to my sandbox" box is there, ticked, for the upload.
        option = page.get_by_label("Send the result event to my sandbox")
        assert option.is_checked()
        page.locator("input[type=file]").set_input_files(str(picture))
        page.get_by_role("button", name="Send").click()
        page.wait_for_url("**?job=*")
        assert page.get_by_role("status").filter(has_text="submitted").is_visible()

        deadline = time.monotonic() + 60
        received = page.locator("article.sandbox-request")
        while received.count() == 0:
            assert time.monotonic() < deadline, desktop.output()
            time.sleep(0.5)
            page.reload()
        assert received.first.get_attribute("data-verification") == "valid"
        assert received.first.locator(".verification").inner_text() == "valid"
        assert "job.succeeded" in received.first.locator("pre.sandbox-body").inner_text()
        page.screenshot(path=str(tmp_path / "sandbox.png"), full_page=True)
    finally:
        context.close()
