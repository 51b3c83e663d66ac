"""Waiting for a job (``?wait=``): notices in memory (desktop) and over Redis (server).

The re-read interval is raised to a minute in these tests, so an answer that arrives in
seconds can only have been woken by the finished-job notice.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from pixtools import events
from pixtools.events import MemoryEvents, RedisEvents
from pixtools.queues import get_queues
from tests.support.images import make_image

THUMBNAIL = {"outputs": [{"steps": [{"op": "resize", "width": 32}]}]}


@pytest.fixture
def slow_recheck(monkeypatch):
    monkeypatch.setattr(events, "RECHECK_SECONDS", 60.0)


def _submit(client, query: str = "") -> tuple[int, dict]:
    response = client.post(
        f"/api/v1/jobs{query}",
        data={"file": (io.BytesIO(make_image((64, 48), "PNG")), "a.png"),
              "recipe": json.dumps(THUMBNAIL)},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_json()


def _run_queued(app) -> None:
    """Run what the standard queue holds, as a consumer would (desktop app, no consumer)."""
    huey = get_queues(app).standard
    with app.app_context():
        while (task := huey.dequeue()) is not None:
            huey.execute(task)


# --- the notices themselves ----------------------------------------------------------


def test_memory_notice_wakes_only_listeners_of_that_job():
    notices = MemoryEvents(max_waiters=2)
    with notices.listen("a") as a, notices.listen("b") as b:
        notices.announce("a")
        assert a.wait(5) is True
        assert b.wait(0.05) is False
        assert a.wait(0.05) is False  # one notice wakes once


def test_redis_notice_crosses_connections(redis_url):
    prefix = f"pt_events_{time.monotonic_ns()}"
    listening, announcing = (RedisEvents(2, redis_url, prefix) for _ in range(2))
    with listening.listen("job1") as listener:
        announcing.announce("job2")
        assert listener.wait(0.3) is False
        announcing.announce("job1")
        assert listener.wait(10) is True


def test_redis_waiters_of_a_process_share_one_subscription(redis_url):
    prefix = f"pt_events_{time.monotonic_ns()}"
    listening, announcing = (RedisEvents(4, redis_url, prefix) for _ in range(2))
    with listening.listen("a") as first, listening.listen("a") as second, \
            listening.listen("b") as other:
        subscriber = listening._running_subscriber()
        assert subscriber.ready.is_set()
        announcing.announce("a")
        assert first.wait(10) is True and second.wait(10) is True
        assert other.wait(0.3) is False
    with listening.listen("c") as again:
        # No new connection, no new subscription: the process's one reader serves it.
        assert listening._running_subscriber() is subscriber
        announcing.announce("c")
        assert again.wait(10) is True


def test_an_unreachable_redis_neither_fails_announcing_nor_listening():
    dead = RedisEvents(2, "redis://127.0.0.1:1/0", "pt_dead")
    dead.announce("job")  # logged, not raised: the consumer must go on
    with dead.listen("job") as listener:
        assert listener.wait(0.05) is False


def test_waiter_slots_are_bounded():
    notices = MemoryEvents(max_waiters=1)
    with notices.waiter_slot() as first, notices.waiter_slot() as second:
        assert (first, second) == (True, False)
    with notices.waiter_slot() as again:
        assert again is True


# --- the API, desktop mode -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "-1", "61", "nan", "1e9"])
def test_a_bad_wait_is_refused_before_anything_is_stored(client, raw):
    status, body = _submit(client, f"?wait={raw}")
    assert status == 400
    assert body["error"] == "bad_request"
    assert "'wait' must be a number of seconds" in body["message"]
    jobs = client.get("/api/v1/jobs/nonexistent?wait=" + raw)
    assert jobs.status_code == 400


def test_status_wait_answers_when_the_job_finishes(app, client, slow_recheck):
    status, job = _submit(client)
    assert status == 202 and job["status"] == "queued"
    finisher = threading.Timer(0.5, _run_queued, [app])
    finisher.start()
    started = time.monotonic()
    response = client.get(f"/api/v1/jobs/{job['id']}?wait=30")
    elapsed = time.monotonic() - started
    finisher.join()
    assert response.status_code == 200
    assert response.get_json()["status"] == "succeeded"
    assert response.get_json()["outputs"][0]["url"]
    assert elapsed < 20, "woken by the re-read after a minute, not by the notice"


def test_status_wait_gives_up_after_the_time_asked(client):
    _status, job = _submit(client)
    started = time.monotonic()
    response = client.get(f"/api/v1/jobs/{job['id']}?wait=1.5")
    assert response.status_code == 200 and response.get_json()["status"] == "queued"
    assert time.monotonic() - started >= 1.5


def test_no_free_waiter_slot_answers_at_once(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "max_waiters": 0})
    db.upgrade(app)
    client = app.test_client()
    _status, job = _submit(client)
    started = time.monotonic()
    response = client.get(f"/api/v1/jobs/{job['id']}?wait=30")
    assert response.get_json()["status"] == "queued"
    assert time.monotonic() - started < 10


def test_waiting_on_someone_elses_job_is_a_404_at_once(app, client):
    _, job = _submit(client)
    stranger = app.test_client()
    stranger.get("/")  # a browser identity of its own
    started = time.monotonic()
    response = stranger.get(f"/api/v1/jobs/{job['id']}?wait=30")
    assert response.status_code == 404
    assert time.monotonic() - started < 10


# --- server mode: a real consumer announces over Redis --------------------------------


def test_submit_with_wait_answers_with_the_finished_job(server_app, consumers, slow_recheck):
    client = server_app.test_client()
    started = time.monotonic()
    status, job = _submit(client, "?wait=50")
    elapsed = time.monotonic() - started
    if job.get("status") != "succeeded":
        raise AssertionError(f"{job}\n" + "\n".join(c.output() for c in consumers))
    assert status == 202
    assert job["outputs"][0]["width"] == 32 and job["outputs"][0]["url"]
    assert elapsed < 40, "woken by the re-read after a minute, not by the Redis notice"
