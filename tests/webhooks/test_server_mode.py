"""Server mode with real consumers: retries through the queue, a breaker shared by the fleet
through Redis, and the sandbox flow over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import requests

from pixtools.webhooks import breaker
from tests.support.environment import free_port, wait_for
from tests.support.images import make_image
from tests.support.webhooks import RECIPE, Receiver, Reply, assert_signed, submit


def deliveries_of(client: Any, job_id: str) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = client.get(f"/api/v1/jobs/{job_id}/webhook").get_json()[
        "deliveries"]
    return deliveries


def test_consumer_retries_after_500_with_the_same_id(open_loopback, hook_server, server_app,
                                                     server_env, spawn, receiver):
    receiver.script = [Reply(500)]
    spawn("worker", "standard", env=server_env)
    worker = spawn("worker", "webhooks", env=server_env)
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
    from pixtools.http.identity import PUBLIC_OWNER

    spawn("worker", "standard", env=server_env)
    worker = spawn("worker", "webhooks", env=server_env)
    wait_for(lambda: "consumer started" in worker.output(), timeout=60)
    port = free_port()  # the receiver is down
    host = f"127.0.0.1:{port}"
    url = f"http://{host}/hook"
    # This process (one worker of the fleet) fails to reach the host three times…
    breakers = breaker.get_breakers()
    key = breaker.key_for(PUBLIC_OWNER, host)  # the anonymous API caller below
    for _ in range(3):
        breakers.admit(key)
        breakers.failed(key)
    with pytest.raises(breaker.CircuitOpen):
        breakers.admit(key)
    redis_key = f"{server_env['PIXTOOLS_QUEUE_PREFIX']}:webhooks:{key}:pybreaker:state"
    assert redis.Redis.from_url(server_env["PIXTOOLS_REDIS_URL"]).get(redis_key) == b"open"
    assert breaker.states() == {key: "open"}

    # …so the consumer, another process, holds a new job's event back without sending it.
    client = server_app.test_client()
    job_id = submit(client, url).get_json()["id"]
    try:
        wait_for(lambda: (d := deliveries_of(client, job_id)) and d[0]["history"], timeout=30)
    except AssertionError:
        raise AssertionError(worker.output()) from None
    (entry,) = deliveries_of(client, job_id)
    first = entry["history"][0]
    assert first["outcome"] == "deferred" and "circuit" in first["error"]
    assert entry["attempts"] == 0 and entry["status"] == "pending"

    receiver = Receiver(port=port)  # the receiver recovers
    try:
        wait_for(lambda: deliveries_of(client, job_id)[0]["status"] == "delivered", timeout=60)
        assert [r.headers["webhook-id"] for r in receiver.requests] == [entry["id"]]
        assert breaker.states() == {key: "closed"}  # closed by the consumer, seen here
    finally:
        receiver.stop()


def test_sandbox_flow_through_the_api(hook_server, server_app, server_env, spawn):
    spawn("worker", "standard", env=server_env)
    spawn("worker", "webhooks", env=server_env)
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
