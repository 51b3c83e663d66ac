"""The circuit breaker per owner and host, in memory (desktop mode): opens, defers, closes
again; never holds a lock while a receiver is slow."""

from __future__ import annotations

import time

from pixtools.webhooks import breaker
from tests.support.environment import free_port
from tests.support.webhooks import Receiver, Reply, attempt, only_delivery, run_job, submit


def by_host() -> dict[str, str]:
    """Breaker states by host, for tests with one owner (keys are ``<owner digest>:<host>``)."""
    return {key.split(":", 1)[1]: state for key, state in breaker.states().items()}


def test_breaker_opens_defers_and_closes_after_recovery(hook_app, hook_client):
    port = free_port()  # nothing listens here yet: the receiver is down
    url = f"http://127.0.0.1:{port}/hook"
    host = f"127.0.0.1:{port}"
    job_ids = [submit(hook_client, url).get_json()["id"] for _ in range(4)]
    for job_id in job_ids:
        run_job(job_id)
    rows = [only_delivery(job_id).id for job_id in job_ids]

    for row_id in rows[:3]:  # threshold 3: the third failure opens the circuit
        assert attempt(row_id) is not None
    assert by_host() == {host: "open"}
    assert all("connection refused" in only_delivery(j).last_error for j in job_ids[:3])

    # While open, a delivery is rescheduled for after the reset timeout, not attempted.
    wait = attempt(rows[3])
    assert wait is not None and 0 < wait <= 2.5
    held = only_delivery(job_ids[3])
    assert held.status == "pending" and held.attempts == 0
    assert held.history[-1].outcome == "deferred" and "circuit" in held.last_error

    receiver = Receiver(port=port)  # the receiver comes back
    try:
        time.sleep(wait)
        assert attempt(rows[3]) is None  # the trial call succeeds…
        assert by_host() == {host: "closed"}  # …and closes the circuit
        for row_id in rows[:3]:
            from pixtools.db import db
            from pixtools.models import WebhookDelivery, utcnow

            db.session.get(WebhookDelivery, row_id).next_attempt_at = utcnow()
            db.session.commit()
            assert attempt(row_id) is None
        assert {only_delivery(j).status for j in job_ids} == {"delivered"}
        assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(rows)
    finally:
        receiver.stop()


def test_breakers_are_per_host(hook_app, hook_client, receiver):
    down = f"http://127.0.0.1:{free_port()}/hook"
    for _ in range(3):
        job_id = submit(hook_client, down).get_json()["id"]
        run_job(job_id)
        attempt(only_delivery(job_id).id)
    job_id = submit(hook_client, receiver.url()).get_json()["id"]
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    assert only_delivery(job_id).status == "delivered"
    states = by_host()
    assert states[f"127.0.0.1:{receiver.port}"] == "closed"
    assert list(states.values()).count("open") == 1


def test_one_owners_failures_do_not_open_the_breaker_for_another(hook_app, receiver):
    """Two owners share a receiving host: one's failing path opens only its own breaker."""
    from pixtools import apikeys

    client = hook_app.test_client()
    failing = {"X-API-Key": apikeys.create("failing").secret}
    healthy = {"X-API-Key": apikeys.create("healthy").secret}
    receiver.default = Reply(503)
    for _ in range(3):
        job_id = submit(client, receiver.url("/broken"), headers=failing).get_json()["id"]
        run_job(job_id)
        attempt(only_delivery(job_id).id)
    assert sorted(breaker.states().values()) == ["open"]
    receiver.default = Reply(200)
    job_id = submit(client, receiver.url("/fine"), headers=healthy).get_json()["id"]
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    assert only_delivery(job_id).status == "delivered"
    assert sorted(breaker.states().values()) == ["closed", "open"]
    assert breaker.counts() == {"closed": 1, "open": 1, "half-open": 0}


def test_no_lock_is_held_while_a_receiver_is_slow(hook_app, hook_client, receiver):
    """A delivery to a slow receiver does not make another to the same host wait."""
    import threading

    receiver.script = [Reply(200, delay=0.9)]  # the read timeout is 1 s
    ids = []
    for _ in range(2):
        job_id = submit(hook_client, receiver.url()).get_json()["id"]
        run_job(job_id)
        ids.append(only_delivery(job_id).id)
    slow = threading.Thread(target=lambda: _attempt_in_context(hook_app, ids[0]))
    slow.start()
    time.sleep(0.3)  # the slow POST is under way
    started = time.monotonic()
    assert attempt(ids[1]) is None
    quick = time.monotonic() - started
    slow.join()
    assert quick < 0.5, f"the second delivery waited {quick:.2f} s behind the first"
    assert {only_delivery(j).status for j in [d for d in _jobs(ids)]} == {"delivered"}


def _attempt_in_context(app, delivery_id: str) -> None:
    with app.app_context():
        attempt(delivery_id)


def _jobs(delivery_ids: list[str]) -> list[str]:
    from pixtools.db import db
    from pixtools.models import WebhookDelivery

    db.session.expire_all()
    return [db.session.get(WebhookDelivery, d).job_id for d in delivery_ids]
