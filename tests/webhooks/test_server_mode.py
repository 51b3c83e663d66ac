"""Server mode with real consumers: retries through the queue, a breaker shared by the fleet
through Redis, and the sandbox flow over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from werkzeug.serving import make_server

from pixtools.webhooks import breaker
from pixtools.webhooks import delivery as deliveries
from tests.conftest import free_port, make_image, wait_for
from tests.webhooks.conftest import (
    RECIPE,
    Receiver,
    Reply,
    assert_signed,
    only_delivery,
    run_job,
    submit,
)


@pytest.fixture
def hook_server(server_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[str]:
    """Server mode tuned for quick retries, the app served over HTTP at its public URL."""
    port = free_port()
    server_env.update({
        "PIXTOOLS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PIXTOOLS_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
        "PIXTOOLS_WEBHOOK_BACKOFF_JITTER": "0",
        "PIXTOOLS_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "PIXTOOLS_WEBHOOK_READ_TIMEOUT_SECONDS": "2",
        "PIXTOOLS_WEBHOOK_BREAKER_THRESHOLD": "3",
        "PIXTOOLS_WEBHOOK_BREAKER_RESET_SECONDS": "5",
    })
    app = request.getfixturevalue("server_app")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture
def open_loopback(server_env: dict[str, str]) -> None:
    server_env["PIXTOOLS_WEBHOOK_ALLOW_PRIVATE"] = "127.0.0.1/32"


def deliveries_of(client: Any, job_id: str) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = client.get(f"/api/v1/jobs/{job_id}/webhook").get_json()[
        "deliveries"]
    return deliveries


def test_consumer_retries_after_500_with_the_same_id(open_loopback, hook_server, server_app,
                                                     server_env, spawn, receiver):
    receiver.script = [Reply(500)]
    worker = spawn("worker", "standard", env=server_env)
    client = server_app.test_client()
    response = submit(client, receiver.url())
    assert response.status_code == 202, response.get_json()
    job_id, secret = response.get_json()["id"], response.get_json()["webhook"]["secret"]
    try:
        (entry,) = wait_for(
            lambda: (d := deliveries_of(client, job_id)) and d[0]["status"] == "delivered" and d,
            timeout=60)
    except AssertionError:
        raise AssertionError(worker.output()) from None
    assert [h["status_code"] for h in entry["history"]] == [500, 200]
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == entry["id"]
    assert_signed(first, secret)
    assert_signed(second, secret)
    (output,) = second.json()["data"]["outputs"]
    assert "X-Amz-Signature=" in output["url"]  # a presigned S3 link, not the image
    assert len(requests.get(output["url"], timeout=10).content) == output["bytes"]


def test_breaker_state_is_shared_through_redis(open_loopback, hook_server, server_app,
                                               server_env, spawn):
    port = free_port()  # the receiver is down
    host = f"127.0.0.1:{port}"
    client = server_app.test_client()
    job_ids = [submit(client, f"http://{host}/hook").get_json()["id"] for _ in range(3)]
    for job_id in job_ids:
        run_job(job_id)  # each finished job enqueues its delivery in Redis
    rows = [only_delivery(job_id).id for job_id in job_ids]
    # This process trips the breaker (threshold 3)…
    for row_id in rows:
        assert deliveries.attempt(row_id) is not None
    key = f"{server_env['PIXTOOLS_QUEUE_PREFIX']}:webhooks:{host}:pybreaker:state"
    assert redis.Redis.from_url(server_env["PIXTOOLS_REDIS_URL"]).get(key) == b"open"
    assert breaker.states() == {host: "open"}

    # …and a consumer in another process holds its deliveries back without sending.
    worker = spawn("worker", "standard", env=server_env)
    try:
        wait_for(lambda: all(only_delivery(j).history[-1].outcome == "deferred"
                             for j in job_ids), timeout=30)
    except AssertionError:
        raise AssertionError(worker.output()) from None
    assert all(only_delivery(j).attempts == 1 for j in job_ids)

    receiver = Receiver(port=port)  # the receiver recovers
    try:
        wait_for(lambda: all(only_delivery(j).status == "delivered" for j in job_ids),
                 timeout=60)
        assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(rows)
        assert breaker.states() == {host: "closed"}  # closed by the consumer, seen here
    finally:
        receiver.stop()


def test_sandbox_flow_through_the_api(hook_server, server_app, server_env, spawn):
    spawn("worker", "standard", env=server_env)
    api = requests.Session()
    box = api.post(f"{hook_server}/api/v1/sandboxes", timeout=5).json()
    assert box["url"] == f"{hook_server}/api/v1/hooks/sandbox/{box['id']}"
    # No allowlist here: the loopback address is accepted only because it is our own sandbox.
    refused = api.post(f"{hook_server}/api/v1/jobs", timeout=5,
                       data={"recipe": RECIPE, "webhook_url": f"{hook_server}/elsewhere"},
                       files={"file": ("a.jpg", make_image((20, 20)), "image/jpeg")})
    assert refused.status_code == 422 and "loopback" in refused.json()["message"]
    response = api.post(f"{hook_server}/api/v1/jobs", timeout=5,
                        data={"recipe": RECIPE, "webhook_url": box["url"]},
                        files={"file": ("a.jpg", make_image((20, 20)), "image/jpeg")})
    assert response.status_code == 202, response.text
    assert "secret" not in response.json()["webhook"]
    entries = wait_for(
        lambda: api.get(f"{hook_server}/api/v1/sandboxes/{box['id']}", timeout=5).json()[
            "requests"], timeout=60)
    (entry,) = entries
    assert entry["verification"] == "valid", entry["detail"]
    assert entry["headers"]["Webhook-Id"].startswith("msg_")
    assert '"type":"job.succeeded"' in entry["body"]
