"""The webhook sandbox: API, receiver, signature results, ownership, expiry and the pages."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from pixtools.webhooks import outbox, signing
from tests.support.browser import browser as page_browser
from tests.support.images import make_image
from tests.support.webhooks import RECIPE, attempt, only_delivery, run_job, submit


def signed_post(client: Any, url: str, secret: str, body: bytes, *, at: int | None = None):
    headers = signing.headers(secret, "msg_test", body.decode(), at)
    return client.post(url.removeprefix("http://localhost"), data=body, headers=headers,
                       content_type="application/json")


def test_create_receive_and_show_newest_first(client):
    response = client.post("/api/v1/sandboxes")
    assert response.status_code == 201
    box = response.get_json()
    assert re.fullmatch(r"http://localhost/api/v1/hooks/sandbox/[\w-]{22}", box["url"])
    assert box["secret"].startswith("whsec_") and box["page"].endswith(f"/sandbox/{box['id']}")
    assert response.headers["Location"] == f"/api/v1/sandboxes/{box['id']}"

    now = int(time.time())
    assert signed_post(client, box["url"], box["secret"], b'{"n":1}').status_code == 200
    assert signed_post(client, box["url"], signing.new_secret(), b'{"n":2}').status_code == 200
    reply = signed_post(client, box["url"], box["secret"], b'{"n":3}', at=now - 900)
    assert reply.get_json() == {"received": True, "verification": "stale timestamp"}
    client.post(box["url"].removeprefix("http://localhost"), data=b"plain")

    shown = client.get(f"/api/v1/sandboxes/{box['id']}").get_json()
    assert [r["verification"] for r in shown["requests"]] == [
        "invalid", "stale timestamp", "invalid", "valid"]
    assert [r["body"] for r in shown["requests"][1:]] == ['{"n":3}', '{"n":2}', '{"n":1}']
    assert shown["requests"][3]["headers"]["Webhook-Id"] == "msg_test"
    assert "missing" in shown["requests"][0]["detail"]


def test_sandboxes_belong_to_their_creator_and_expire(app, client):
    from pixtools.db import db
    from pixtools.models import WebhookSandbox, utcnow

    box = client.post("/api/v1/sandboxes").get_json()
    browser, csrf = page_browser(app)  # a browser: its own owner cookie and CSRF token
    assert browser.get(f"/api/v1/sandboxes/{box['id']}").status_code == 404
    assert browser.get(f"/sandbox/{box['id']}").status_code == 404
    # Someone else's sandbox is not "our own" for them: its loopback URL is refused.
    refused = submit(browser, box["url"], headers=csrf)
    assert refused.status_code == 422 and "loopback" in refused.get_json()["message"]

    db.session.get(WebhookSandbox, box["id"]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(f"/api/v1/sandboxes/{box['id']}").status_code == 404
    gone = client.post(box["url"].removeprefix("http://localhost"), data=b"{}")
    assert gone.status_code == 410  # tells a sender to stop
    assert client.post("/api/v1/hooks/sandbox/nope", data=b"{}").status_code == 404
    assert outbox.sweep() == 0
    assert db.session.get(WebhookSandbox, box["id"]) is None  # expired ones are removed


def test_sandbox_keeps_bounded_bodies_and_history(client):
    from pixtools.webhooks import sandbox

    box = client.post("/api/v1/sandboxes").get_json()
    path = box["url"].removeprefix("http://localhost")
    big = client.post(path, data=b"x" * (sandbox.MAX_BODY_BYTES + 1))
    assert big.status_code == 413
    for n in range(sandbox.KEEP_REQUESTS + 3):
        client.post(path, data=str(n).encode())
    kept = client.get(f"/api/v1/sandboxes/{box['id']}").get_json()["requests"]
    assert len(kept) == sandbox.KEEP_REQUESTS and kept[0]["body"] == str(sandbox.KEEP_REQUESTS + 2)


def test_own_sandbox_is_accepted_without_echoing_its_secret(client):
    box = client.post("/api/v1/sandboxes").get_json()
    response = submit(client, box["url"])
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["webhook"] == {"url": box["url"], "sandbox": box["id"]}
    both = submit(client, [box["url"], "http://93.184.215.14/"])
    assert both.status_code == 422 and "one webhook URL" in both.get_json()["message"]


def test_public_url_decides_what_is_our_own(tmp_path):
    from pixtools import create_app, db

    app = create_app({"data_dir": tmp_path, "secret_key": "k",
                      "public_url": "http://localhost:8080/"})
    db.upgrade(app)
    with app.app_context():
        client = app.test_client()
        box = client.post("/api/v1/sandboxes").get_json()
        assert box["url"].startswith("http://localhost:8080/api/v1/hooks/sandbox/")
        # A loopback address, but this instance's own: the URL is accepted.
        assert submit(client, box["url"]).status_code == 202
        # The same sandbox path on another origin (even this machine's) is not ours.
        other = box["url"].replace("localhost:8080", "127.0.0.1:8080")
        assert submit(client, other).status_code == 422
        db.db.session.remove()
        db.db.engine.dispose()


@pytest.fixture
def served(app: Any) -> Iterator[str]:
    """The desktop app served over real HTTP on loopback, as ``pixtools desktop`` does."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_job_event_arrives_in_the_sandbox_over_http(app, served):
    api = requests.Session()
    box = api.post(f"{served}/api/v1/sandboxes", timeout=5).json()
    assert box["url"].startswith(f"{served}/api/v1/hooks/sandbox/")
    response = api.post(
        f"{served}/api/v1/jobs", timeout=5, data={"recipe": RECIPE, "webhook_url": box["url"]},
        files={"file": ("a.jpg", make_image((40, 30)), "image/jpeg")},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    assert only_delivery(job_id).status == "delivered"
    (entry,) = api.get(f"{served}/api/v1/sandboxes/{box['id']}", timeout=5).json()["requests"]
    assert entry["verification"] == "valid", entry["detail"]
    event = json.loads(entry["body"])
    assert event["type"] == "job.succeeded" and event["data"]["job_id"] == job_id
    # The link in the event works against the address the job was submitted to.
    link = event["data"]["outputs"][0]["url"]
    assert link.startswith(f"{served}/files/") and api.get(link, timeout=5).status_code == 200


def test_pages_create_send_and_show(app):
    browser = app.test_client()
    page = browser.get("/sandbox")
    assert page.status_code == 200 and "You have no sandbox yet" in page.get_data(as_text=True)
    # The page's forms carry its CSRF token, as a browser would send it.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    created = browser.post("/sandbox", data={"csrf_token": token})
    assert created.status_code == 303
    location = created.headers["Location"]
    html = browser.get(location).get_data(as_text=True)
    url = re.search(r'<code class="sandbox-url">([^<]+)</code>', html).group(1)
    assert "Nothing received yet" in html
    assert f'name="webhook_url" value="{url}" checked' in html  # one click: ticked already
    sent = browser.post("/sandbox/send", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(make_image((16, 16))), "x.jpg"),
                              "webhook_url": url, "csrf_token": token})
    assert sent.status_code == 303 and sent.headers["Location"].startswith(location + "?job=")
    job_id = sent.headers["Location"].split("job=")[1]
    html = browser.get(sent.headers["Location"]).get_data(as_text=True)
    assert job_id in html and 'role="status"' in html
    run_job(job_id)
    assert only_delivery(job_id).url == url
    # Requests appear on the page with their verification result.
    secret = re.search(r'<code class="sandbox-secret">([^<]+)</code>', html).group(1)
    signed_post(browser, url, secret, b'{"hello":"page"}')
    html = browser.get(location).get_data(as_text=True)
    assert 'data-verification="valid"' in html and "&#34;hello&#34;: &#34;page&#34;" in html
    listing = browser.get("/sandbox").get_data(as_text=True)
    assert url in listing and "1 request(s)" in listing
    # Without a sandbox of its own, another visitor is offered to create one.
    other = app.test_client()
    assert "Create a sandbox" in other.get("/sandbox").get_data(as_text=True)


def test_webhook_tables_migrate_on_postgres(postgres_url, tmp_path):
    import sqlalchemy as sa

    from pixtools import create_app, db
    from pixtools.db import engine_url

    engine = sa.create_engine(engine_url(postgres_url))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    db.upgrade(create_app({"data_dir": tmp_path, "database_url": postgres_url,
                           "secret_key": "x"}))
    inspector = sa.inspect(engine)
    assert {"webhook_deliveries", "webhook_attempts", "webhook_disabled_urls",
            "webhook_sandboxes", "webhook_sandbox_requests"} <= set(inspector.get_table_names())
    assert {"webhook_url", "webhook_secret", "webhook_base_url"} <= {
        c["name"] for c in inspector.get_columns("jobs")}
    engine.dispose()
