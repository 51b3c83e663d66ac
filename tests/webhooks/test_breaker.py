"""The circuit breaker per host, in memory (desktop mode): opens, defers, closes again."""

from __future__ import annotations

import time

from pixtools.webhooks import breaker
from tests.support.environment import free_port
from tests.support.webhooks import Receiver, attempt, only_delivery, run_job, submit


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
    assert breaker.states() == {host: "open"}
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
        assert breaker.states() == {host: "closed"}  # …and closes the circuit
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
    states = breaker.states()
    assert states[f"127.0.0.1:{receiver.port}"] == "closed"
    assert list(states.values()).count("open") == 1
