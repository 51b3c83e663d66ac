"""Delivery rules against a real local receiver: success, retries, 410, 3xx, timeouts, window."""

from __future__ import annotations

import email.utils
import time

from pixtools.webhooks import outbox
from tests.support.webhooks import (
    Reply,
    assert_signed,
    attempt,
    only_delivery,
    run_job,
    spec_signature,
    submit,
)


def start_job(client, url: str) -> tuple[str, str]:
    response = submit(client, url)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    return body["id"], body["webhook"]["secret"]


def test_success_is_signed_per_spec_and_carries_links(hook_app, hook_client, receiver):
    job_id, secret = start_job(hook_client, receiver.url())
    assert secret.startswith("whsec_")
    # The secret is shown once: reading the job later does not repeat it.
    assert "whsec_" not in hook_client.get(f"/api/v1/jobs/{job_id}").get_data(as_text=True)
    run_job(job_id)
    row = only_delivery(job_id)
    assert row.status == "pending" and row.event == "job.succeeded"
    assert attempt(row.id) is None
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/hook"
    assert got.headers["webhook-id"] == row.id
    assert got.headers["content-type"] == "application/json"
    assert_signed(got, secret)
    event = got.json()
    assert event["type"] == "job.succeeded"
    assert event["data"]["job_id"] == job_id and event["data"]["status"] == "succeeded"
    (output,) = event["data"]["outputs"]
    assert output["format"] == "png" and output["width"] == 32 and output["bytes"] > 0
    # A link, never the bytes: the link is absolute and downloads exactly those bytes.
    assert output["url"].startswith("http://localhost/files/jobs/")
    # (A fresh client: a page request gives the test client a browser owner cookie.)
    download = hook_app.test_client().get(output["url"].removeprefix("http://localhost"))
    assert download.status_code == 200 and len(download.data) == output["bytes"]
    assert len(got.body) < 2000

    log = hook_client.get(f"/api/v1/jobs/{job_id}/webhook").get_json()
    (entry,) = log["deliveries"]
    assert entry["status"] == "delivered" and entry["attempts"] == 1
    assert entry["history"][0]["status_code"] == 200
    assert entry["history"][0]["latency_ms"] >= 0
    # Sent once: another copy of the task finds nothing to do.
    assert attempt(row.id) is None
    assert len(receiver.requests) == 1


def test_500_then_success_retries_with_the_same_webhook_id(hook_client, receiver):
    receiver.script = [Reply(500, body=b"database down")]
    job_id, secret = start_job(hook_client, receiver.url())
    run_job(job_id)
    row = only_delivery(job_id)
    retry_in = attempt(row.id)
    assert retry_in is not None and 0.19 < retry_in < 0.21  # base 0.2 s, no jitter
    row = only_delivery(job_id)
    assert row.status == "pending" and row.last_status_code == 500
    assert "database down" in row.last_error
    time.sleep(retry_in)
    assert attempt(row.id) is None
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.id
    # The same event; only its download links are signed afresh for each attempt.
    events = [r.json() for r in (first, second)]
    for event in events:
        event["data"]["outputs"][0].pop("url")
    assert events[0] == events[1]
    assert_signed(first, secret)
    assert_signed(second, secret)
    row = only_delivery(job_id)
    assert row.status == "delivered" and row.attempts == 2
    assert [a.outcome for a in row.history] == ["retry", "delivered"]
    assert row.history[0].next_attempt_at is not None


def test_backoff_doubles_and_retry_after_is_respected(hook_config, request, receiver):
    hook_config["webhook_breaker_threshold"] = 10  # this test is about backoff alone
    hook_client = request.getfixturevalue("app").test_client()
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    receiver.script = [Reply(502), Reply(503), Reply(503, {"Retry-After": "7"}),
                       Reply(429, {"Retry-After": later}), Reply(429)]
    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    row_id = only_delivery(job_id).id
    delays = []
    for _ in range(5):
        delays.append(attempt(row_id))
        from pixtools.db import db
        from pixtools.models import WebhookDelivery, utcnow

        # Make the next attempt due now rather than waiting for it.
        db.session.get(WebhookDelivery, row_id).next_attempt_at = utcnow()
        db.session.commit()
    assert delays[0] == 0.2 and delays[1] == 0.4
    assert delays[2] == 7.0
    assert 25 < delays[3] <= 30
    assert delays[4] == 0.2 * 2 ** 4
    assert [a.status_code for a in only_delivery(job_id).history] == [502, 503, 503, 429, 429]


def test_410_disables_the_url(hook_client, receiver):
    receiver.default = Reply(410)
    url = receiver.url("/gone")
    job_id, _ = start_job(hook_client, url)
    run_job(job_id)
    row = only_delivery(job_id)
    assert attempt(row.id) is None
    row = only_delivery(job_id)
    assert row.status == "disabled" and "410" in row.last_error
    # The URL is refused for new jobs, with the reason…
    response = submit(hook_client, url)
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "webhook_url" and "410 Gone" in body["message"]
    # …and a delivery already waiting for it is not sent.
    other = submit(hook_client, receiver.url("/other")).get_json()["id"]
    from pixtools.db import db
    from pixtools.models import Job

    db.session.get(Job, other).webhook_url = url
    db.session.commit()
    run_job(other)
    assert attempt(only_delivery(other).id) is None
    assert only_delivery(other).status == "disabled"
    assert len(receiver.requests) == 1


def test_redirect_is_a_failure_and_not_followed(hook_client, receiver):
    receiver.script = [Reply(301, {"Location": receiver.url("/elsewhere")})]
    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    row = only_delivery(job_id)
    assert attempt(row.id) is None
    row = only_delivery(job_id)
    assert row.status == "failed" and row.last_status_code == 301
    assert "redirects" in row.last_error and "/elsewhere" in row.last_error
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_other_4xx_fails_without_retry(hook_client, receiver):
    receiver.script = [Reply(401, body=b"bad token")]
    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    row = only_delivery(job_id)
    assert row.status == "failed" and row.last_error == "HTTP 401: bad token"


def test_slow_receiver_times_out_and_is_retried(hook_client, receiver):
    receiver.script = [Reply(200, delay=3)]  # read timeout is 1 s
    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    retry_in = attempt(only_delivery(job_id).id)
    assert retry_in is not None
    row = only_delivery(job_id)
    assert row.status == "pending"
    assert "did not answer in time" in row.last_error
    assert row.last_status_code is None


def test_failed_job_sends_job_failed(hook_client, hook_app, receiver):
    from pixtools.storage import get_storage

    response = submit(hook_client, receiver.url())
    job_id, secret = response.get_json()["id"], response.get_json()["webhook"]["secret"]
    get_storage(hook_app).delete_prefix(f"jobs/{job_id}/source")
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    event = receiver.requests[0].json()
    assert event["type"] == "job.failed"
    assert event["data"]["status"] == "failed"
    assert "storage problem on the server" in event["data"]["error"]
    assert event["data"]["outputs"][0]["url"] is None
    assert_signed(receiver.requests[0], secret)


def test_finishing_twice_records_one_delivery(hook_client, receiver):
    from pixtools import jobs

    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    jobs.finalise(job_id)
    only_delivery(job_id)  # still exactly one


def test_dead_after_the_retry_window(hook_config, request, receiver):
    hook_config["webhook_retry_window_hours"] = 0.5 / 3600  # half a second
    hook_config["webhook_backoff_base_seconds"] = 1
    client = request.getfixturevalue("app").test_client()
    receiver.default = Reply(500)
    job_id, _ = start_job(client, receiver.url())
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) is None
    row = only_delivery(job_id)
    assert row.status == "dead"
    assert "retry window" in row.last_error and "HTTP 500" in row.last_error
    log = client.get(f"/api/v1/jobs/{job_id}/webhook").get_json()
    assert log["deliveries"][0]["status"] == "dead"


def test_account_secret_is_used_and_not_echoed(hook_config, request, receiver):
    from pixtools.webhooks.signing import new_secret

    secret = new_secret()
    hook_config["webhook_secret"] = secret
    client = request.getfixturevalue("app").test_client()
    response = submit(client, receiver.url())
    assert response.status_code == 202
    assert response.get_json()["webhook"] == {"url": receiver.url()}
    job_id = response.get_json()["id"]
    run_job(job_id)
    attempt(only_delivery(job_id).id)
    got = receiver.requests[0]
    assert spec_signature(secret, got.headers["webhook-id"], got.headers["webhook-timestamp"],
                          got.body) == got.headers["webhook-signature"]


def test_lost_task_is_found_by_the_sweep(hook_client, hook_app, receiver):
    from pixtools.db import db
    from pixtools.models import WebhookDelivery, utcnow
    from pixtools.queues import get_queues

    job_id, _ = start_job(hook_client, receiver.url())
    run_job(job_id)
    huey = get_queues(hook_app).webhooks  # deliveries have a queue of their own
    huey.flush()  # the task is lost…
    row = db.session.get(WebhookDelivery, only_delivery(job_id).id)
    row.next_attempt_at = utcnow() - outbox.OVERDUE * 2
    db.session.commit()
    assert outbox.sweep() == 1  # …and the sweep enqueues it again
    assert len(huey) == 1
    task = huey.dequeue()
    huey.execute(task)
    assert only_delivery(job_id).status == "delivered"
    assert len(receiver.requests) == 1


def test_a_huge_retry_after_is_clamped_to_the_backoff_maximum(hook_config, request, receiver):
    hook_config["webhook_backoff_max_seconds"] = 5
    client = request.getfixturevalue("app").test_client()
    from tests.corpus.attacks import HUGE_RETRY_AFTER

    receiver.default = Reply(503, {"Retry-After": HUGE_RETRY_AFTER})
    job_id, _ = start_job(client, receiver.url())
    run_job(job_id)
    assert attempt(only_delivery(job_id).id) == 5  # no OverflowError, no endless loop
    row = only_delivery(job_id)
    assert row.status == "pending" and row.attempts == 1


def test_an_internal_error_counts_as_an_attempt_and_ends_dead(hook_config, request, receiver):
    """A delivery that keeps failing inside PixTools is retried, counted, and ends dead."""
    from pixtools.db import db
    from pixtools.models import WebhookDelivery, utcnow
    from pixtools.webhooks import delivery

    hook_config["webhook_retry_window_hours"] = 1 / 3600  # one second
    client = request.getfixturevalue("app").test_client()
    job_id, _ = start_job(client, receiver.url())
    run_job(job_id)
    row_id = only_delivery(job_id).id

    def broken(job, event):
        raise OverflowError("date value out of range")

    delivery.run(row_id, render=broken)
    row = only_delivery(job_id)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error == "internal error (OverflowError)"
    time.sleep(1.1)
    db.session.get(WebhookDelivery, row_id).next_attempt_at = utcnow()
    db.session.commit()
    delivery.run(row_id, render=broken)
    row = only_delivery(job_id)
    assert row.status == "dead" and "retry window" in row.last_error
    assert receiver.requests == []
