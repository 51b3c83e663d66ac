"""One creation path: the API, the page and the sandbox page all make jobs through
``jobs.prepare`` and ``jobs.create``, and refuse the same bad input with the same words."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest

from pixtools import create_app, db, jobs
from pixtools.queues import get_queues
from tests.support.browser import browser
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]})


def desktop_app(config: dict[str, Any], **settings: Any) -> Any:
    app = create_app({**config, **settings})
    db.upgrade(app)
    return app


def via_api(client: Any, data: bytes, webhook: str | None) -> tuple[int, str]:
    form: dict[str, Any] = {"file": (io.BytesIO(data), "pic.png"), "recipe": RECIPE}
    if webhook:
        form["webhook_url"] = webhook
    reply = client.post("/api/v1/jobs", data=form, content_type="multipart/form-data")
    body = reply.get_json()
    return reply.status_code, body.get("message", "") if reply.status_code >= 400 else ""


def _shown_error(page: str) -> str:
    """The error message the page shows (inline on a control, on the form, or on a card)."""
    found = re.search(r'class="(?:error-message|field-error|form-error)[^"]*"[^>]*>(.*?)<',
                      page, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


def via_page(client: Any, headers: dict[str, str], data: bytes,
             webhook: str | None) -> tuple[int, str]:
    form: dict[str, Any] = {"file": (io.BytesIO(data), "pic.png"), "format": "webp"}
    if webhook:
        form["webhook_url"] = webhook
    reply = client.post("/jobs", data=form, content_type="multipart/form-data",
                        headers={**headers, "HX-Request": "true"})
    return reply.status_code, _shown_error(reply.get_data(as_text=True))


def via_sandbox_page(client: Any, headers: dict[str, str], data: bytes,
                     webhook: str | None) -> tuple[int, str]:
    form: dict[str, Any] = {"file": (io.BytesIO(data), "pic.png")}
    if webhook:
        form["webhook_url"] = webhook
    reply = client.post("/sandbox/send", data=form, content_type="multipart/form-data",
                        headers={**headers, "HX-Request": "true"})
    return reply.status_code, _shown_error(reply.get_data(as_text=True))


def same_words(api: str, shown: str) -> bool:
    """The page shows the API's message, without the field path, capitalised."""
    bare = re.sub(r"^[\w.]+: ", "", api)
    return shown in (api, bare, bare[:1].upper() + bare[1:])


BAD_INPUTS = {
    # what, (upload, webhook URL), the API's status
    "not an image": (b"just some text", None, 415),
    "private webhook": (make_image((16, 16), fmt="PNG"), "http://10.1.2.3/hook", 422),
    "too many pixels": (make_image((64, 64), fmt="PNG"), None, 422),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_every_entry_point_refuses_the_same_input_the_same_way(desktop_config, case):
    app = desktop_app(desktop_config, max_pixels=1000)
    data, webhook, status = BAD_INPUTS[case]
    api_status, api_message = via_api(app.test_client(), data, webhook)
    assert api_status == status and api_message
    page_client, headers = browser(app)
    page_status, page_message = via_page(page_client, headers, data, webhook)
    sandbox_status, sandbox_message = via_sandbox_page(page_client, headers, data, webhook)
    assert same_words(api_message, page_message), (api_message, page_message)
    assert same_words(api_message, sandbox_message), (api_message, sandbox_message)
    assert sandbox_status == status
    assert page_status in (status, 422)  # the page answers a refused form with 422


def test_a_full_queue_refuses_every_entry_point_with_retry_after(desktop_config):
    app = desktop_app(desktop_config, max_queued_standard=1)
    standard = get_queues(app).standard
    standard.enqueue(standard.task(name="occupant")(lambda: None).s())  # one waiting task
    data = make_image((16, 16), fmt="PNG")
    api = app.test_client().post("/api/v1/jobs", data={
        "file": (io.BytesIO(data), "pic.png"), "recipe": RECIPE},
        content_type="multipart/form-data")
    assert api.status_code == 503 and api.headers["Retry-After"] == "30"
    client, headers = browser(app)
    _, page_message = via_page(client, headers, data, None)
    sandbox_status, sandbox_message = via_sandbox_page(client, headers, data, None)
    assert sandbox_status == 503  # the sandbox page no longer skips backpressure
    assert same_words(api.get_json()["message"], page_message)
    assert same_words(api.get_json()["message"], sandbox_message)


def test_every_entry_point_goes_through_prepare_and_create(desktop_config, monkeypatch):
    app = desktop_app(desktop_config)
    calls: list[str] = []
    prepare, create = jobs.prepare, jobs.create
    monkeypatch.setattr(jobs, "prepare", lambda **kw: calls.append("prepare") or prepare(**kw))
    monkeypatch.setattr(jobs, "create",
                        lambda *a, **kw: calls.append("create") or create(*a, **kw))
    data = make_image((16, 16), fmt="PNG")
    assert via_api(app.test_client(), data, None)[0] == 202
    client, headers = browser(app)
    assert via_page(client, headers, data, None)[0] == 200
    assert via_sandbox_page(client, headers, data, None)[0] == 303
    assert calls == ["prepare", "create"] * 3
