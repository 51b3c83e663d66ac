"""``Idempotency-Key`` on ``POST /api/v1/jobs``: durable, per caller, expiring with the job."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support.browser import browser
from tests.support.environment import settings_from_env
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]})
IMAGE = make_image((40, 30))


def post(client: Any, key: str | None, *, recipe: str = RECIPE, data: bytes = IMAGE,
         name: str = "photo.jpg", csrf: dict[str, str] | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    headers.update(csrf or {})
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(data), name), "recipe": recipe},
        content_type="multipart/form-data",
        headers=headers,
    )


def job_count() -> int:
    from pixtools.db import db
    from pixtools.models import Job

    return int(db.session.execute(select(func.count()).select_from(Job)).scalar_one())


def test_same_key_and_request_returns_the_original_job(client):
    first = post(client, "order-42")
    assert first.status_code == 202
    again = post(client, "order-42")
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    # The same recipe spelt differently (defaults written out) is the same request.
    spelt_out = json.dumps({"outputs": [{"steps": [
        {"format": "webp", "op": "convert", "quality": 80}]}], "auto_orient": True})
    assert post(client, "order-42", recipe=spelt_out).status_code == 200
    assert job_count() == 1
    # Without a key, every POST is a new job.
    assert post(client, None).status_code == 202
    assert job_count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"recipe": json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})},
        {"data": make_image((41, 30))},
        {"name": "other.jpg"},
    ],
    ids=["recipe", "file", "filename"],
)
def test_same_key_with_a_different_request_is_refused(client, change):
    assert post(client, "k-1").status_code == 202
    response = post(client, "k-1", **change)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "idempotency_key_reused"
    assert "already used for a different request" in body["message"]
    assert job_count() == 1


def test_keys_are_scoped_to_their_owner(app):
    # Each browser gets its own owner cookie (and sends its page's CSRF token).
    (alice, alice_csrf), (bob, bob_csrf) = browser(app), browser(app)
    a, b = post(alice, "same-key", csrf=alice_csrf), post(bob, "same-key", csrf=bob_csrf)
    assert (a.status_code, b.status_code) == (202, 202)
    assert a.get_json()["id"] != b.get_json()["id"]
    # Bob's different request with that key is his business, not a conflict with Alice's.
    assert post(bob, "same-key", name="x.jpg", csrf=bob_csrf).status_code == 422
    assert post(alice, "same-key", csrf=alice_csrf).get_json()["id"] == a.get_json()["id"]


def test_keys_expire_with_their_job(client):
    from pixtools.db import db
    from pixtools.models import Job, utcnow

    old = post(client, "reused-tomorrow").get_json()["id"]
    db.session.execute(update(Job).where(Job.id == old).values(expires_at=utcnow()))
    db.session.commit()
    fresh = post(client, "reused-tomorrow", name="another.jpg")
    assert fresh.status_code == 202
    assert fresh.get_json()["id"] != old
    assert post(client, "reused-tomorrow", name="another.jpg").get_json()["id"] == \
        fresh.get_json()["id"]
    # A deleted job takes its key with it.
    assert client.delete(fresh.headers["Location"]).status_code == 204
    assert post(client, "reused-tomorrow").status_code == 202


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "caf\u00e9", "tab\there"])
def test_malformed_keys_are_a_clear_400(client, key):
    response = post(client, key)
    assert response.status_code == 400
    assert "Idempotency-Key must be 1–255 printable ASCII characters" in \
        response.get_json()["message"]
    assert job_count() == 0


def test_keys_are_durable_and_race_free_on_postgresql(server_app, server_env):
    from pixtools import create_app
    from pixtools.storage import get_storage

    callers = 6
    barrier = threading.Barrier(callers)
    answers: list[tuple[int, str]] = []

    def submit() -> None:
        client = server_app.test_client()
        barrier.wait()
        response = post(client, "nightly-batch-7")
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=submit) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(code for code, _ in answers) == [200] * (callers - 1) + [202]
    assert len({job_id for _, job_id in answers}) == 1
    assert job_count() == 1
    job_id = answers[0][1]
    # The losers of the race left no stray uploads behind.
    assert list(get_storage(server_app).keys("jobs/")) == [f"jobs/{job_id}/source"]

    # The key lives in the database: a freshly started app (new Redis connections, nothing
    # in memory) still answers with the same job.
    restarted = create_app(settings_from_env(server_env))
    response = post(restarted.test_client(), "nightly-batch-7")
    assert (response.status_code, response.get_json()["id"]) == (200, job_id)
