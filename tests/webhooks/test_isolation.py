"""Hostile receivers cannot stall the service: real consumers in server mode, a receiver
that drips one byte a second forever and one that answers ``Retry-After`` with 20 digits,
beside a stream of small image jobs."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.corpus.attacks import DRIP_SECONDS, HUGE_RETRY_AFTER
from tests.support.environment import wait_for
from tests.support.webhooks import DripReceiver, Receiver, Reply, submit

DEADLINE = 3.0  # PIXTOOLS_WEBHOOK_TIMEOUT_SECONDS
WINDOW = 20.0  # seconds: PIXTOOLS_WEBHOOK_RETRY_WINDOW_HOURS × 3600
BACKOFF_MAX = 2.0
# An image job of 32×24 pixels takes well under a second; "a few seconds" leaves room for
# a shared, busy machine while staying far from the minutes a stalled queue takes.
IMAGE_JOB_BOUND = 8.0


@pytest.fixture
def hostile_env(server_env: dict[str, str]) -> dict[str, str]:
    server_env.update({
        "PIXTOOLS_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1/32",
        "PIXTOOLS_WEBHOOK_TIMEOUT_SECONDS": str(DEADLINE),
        # Longer than the drip's pause: only the wall-clock deadline can end its attempts.
        "PIXTOOLS_WEBHOOK_READ_TIMEOUT_SECONDS": "2",
        "PIXTOOLS_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "PIXTOOLS_WEBHOOK_RETRY_WINDOW_HOURS": str(WINDOW / 3600),
        "PIXTOOLS_WEBHOOK_BACKOFF_BASE_SECONDS": "1",
        "PIXTOOLS_WEBHOOK_BACKOFF_MAX_SECONDS": str(BACKOFF_MAX),
        "PIXTOOLS_WEBHOOK_BACKOFF_JITTER": "0",
        "PIXTOOLS_WEBHOOK_BREAKER_THRESHOLD": "1000",  # this test is about deadlines
        "PIXTOOLS_WEBHOOK_WORKERS": "2",
        "PIXTOOLS_STANDARD_WORKERS": "2",
    })
    return server_env


def _status(client: Any, job_id: str) -> str:
    status: str = client.get(f"/api/v1/jobs/{job_id}").get_json()["status"]
    return status


def _deliveries(job_ids: list[str]) -> list[Any]:
    from pixtools.db import db
    from pixtools.models import WebhookDelivery

    db.session.expire_all()
    rows = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.job_id.in_(job_ids))).scalars().all()
    db.session.commit()
    return list(rows)


def test_hostile_receivers_do_not_stall_image_jobs_and_end_dead(hostile_env, spawn, request):
    from pixtools.db import db
    from pixtools.models import WebhookDelivery

    app = request.getfixturevalue("server_app")
    workers = [spawn("worker", queue, env=hostile_env) for queue in ("standard", "webhooks")]
    drip, huge = DripReceiver(every=DRIP_SECONDS), Receiver()
    huge.default = Reply(503, {"Retry-After": HUGE_RETRY_AFTER})
    client = app.test_client()
    try:
        hooked = [submit(client, drip.url()).get_json()["id"],
                  submit(client, huge.url()).get_json()["id"]]
        wait_for(lambda: drip.connections and huge.requests, timeout=60)

        # A stream of image jobs while both receivers hold their deliveries.
        durations = []
        for _ in range(6):
            started = time.monotonic()
            job_id = submit(client, None).get_json()["id"]
            wait_for(lambda: _status(client, job_id) == "succeeded", timeout=60)  # noqa: B023
            durations.append(time.monotonic() - started)
            time.sleep(0.5)
        print(f"image jobs beside the hostile receivers: {[round(d, 2) for d in durations]} s")
        assert max(durations) < IMAGE_JOB_BOUND, durations

        rows = wait_for(lambda: (found := _deliveries(hooked))
                        and all(r.status == "dead" for r in found) and found,
                        timeout=WINDOW + 40)
    except AssertionError:
        raise AssertionError("\n".join(w.output()[-3000:] for w in workers)) from None
    finally:
        drip.stop()
        huge.stop()

    by_job = {row.job_id: row for row in rows}
    dripped, clamped = by_job[hooked[0]], by_job[hooked[1]]
    # Every drip attempt ended at its deadline, not when the receiver let go.
    closed = [end - start for start, end in drip.connections if end is not None]
    print(f"drip attempts cut off after {[round(c, 2) for c in closed]} s")
    assert closed and all(DEADLINE - 0.5 < seconds < DEADLINE + 2.5 for seconds in closed), closed
    assert all("deadline" in (a.error or "") for a in dripped.history if a.outcome == "retry")
    assert dripped.attempts >= 2 and "retry window" in dripped.last_error
    # One connection per attempt: the claim outlived each attempt, so no second worker
    # took a delivery over while it was being sent.
    assert len(drip.connections) == dripped.attempts
    # The huge Retry-After was clamped to the backoff maximum: retried, then dead.
    assert clamped.attempts >= 3
    for entry in clamped.history:
        if entry.next_attempt_at is not None:
            delay = entry.next_attempt_at - entry.started_at
            assert delay <= timedelta(seconds=BACKOFF_MAX + 0.01), delay
    assert "retry window" in clamped.last_error
    # Nothing is left mid-send.
    sending = db.session.execute(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.status == "sending")).scalar_one()
    assert sending == 0


def test_desktop_delivers_from_its_own_consumer(tmp_path, spawn):
    """Desktop mode: a drip receiver holds a delivery, and image jobs still finish at once."""
    import requests

    from tests.support.environment import free_port
    from tests.support.images import make_image
    from tests.support.webhooks import RECIPE

    drip = DripReceiver(every=1.0)
    port = free_port()
    desktop = spawn("desktop", "--no-browser", "--port", str(port), "--data-dir",
                    str(tmp_path / "data"),
                    env={"PIXTOOLS_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1/32",
                         "PIXTOOLS_WEBHOOK_TIMEOUT_SECONDS": "30",
                         "PIXTOOLS_STANDARD_WORKERS": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "running at" in desktop.output(), timeout=60)

        def send(webhook: str | None) -> str:
            data = {"recipe": RECIPE, **({"webhook_url": webhook} if webhook else {})}
            reply = requests.post(f"{base}/api/v1/jobs", data=data, timeout=10,
                                  files={"file": ("a.jpg", make_image((32, 24)), "image/jpeg")})
            assert reply.status_code == 202, reply.text
            job_id: str = reply.json()["id"]
            return job_id

        send(drip.url())
        wait_for(lambda: drip.connections, timeout=30)  # the delivery is being dripped…
        for _ in range(3):  # …while the one standard worker keeps serving image jobs
            started = time.monotonic()
            job_id = send(None)
            wait_for(lambda: requests.get(f"{base}/api/v1/jobs/{job_id}",  # noqa: B023
                                          timeout=5).json()["status"] == "succeeded",
                     timeout=30)
            assert time.monotonic() - started < IMAGE_JOB_BOUND
        assert drip.connections[0][1] is None  # still held, by the webhooks consumer
    finally:
        drip.stop()
        desktop.stop()
