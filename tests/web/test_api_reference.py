"""The API reference page (/api/v1/docs) in Chromium: Swagger UI draws every documented
operation from /api/v1/openapi.json under the site's strict CSP, loading nothing from
elsewhere."""

from __future__ import annotations

import requests

from tests.support.pages import csp_violations, shoot


def test_the_reference_page_draws_the_document_under_the_strict_csp(desktop, new_page):
    server = desktop()
    document = requests.get(f"{server.base}/api/v1/openapi.json", timeout=30).json()
    operations = sum(len(item) for item in document["paths"].values())
    page = new_page()
    errors, requested = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("request", lambda r: requested.append(r.url))
    answer = page.goto(f"{server.base}/api/v1/docs")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    page.locator(".opblock").nth(operations - 1).wait_for()
    assert page.locator(".opblock").count() == operations
    assert page.locator(".info .title").inner_text().startswith("PixTools API")
    page.locator(".opblock-summary", has_text="Submit an image and its recipe").click()
    # Swagger UI draws an opened operation's body first and its parameters a moment later.
    page.locator(".opblock-body").first.get_by_text("Idempotency-Key").first.wait_for()
    # Styled by the vendored stylesheet: a GET badge is Swagger UI's blue, not unstyled.
    colour = page.locator(".opblock-get .opblock-summary-method").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour
    assert csp_violations(page) == [] and errors == []
    assert all(url.startswith(server.base) for url in requested), requested
    shoot(page, "api-reference")
    server.stop()
