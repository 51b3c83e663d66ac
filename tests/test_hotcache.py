"""The hot cache: finished jobs' answers and API keys kept briefly in Redis (server mode),
dropped at once by whatever changes them."""

from __future__ import annotations

import io
import json
import secrets

import pytest
from sqlalchemy import event

from pixtools import hotcache
from pixtools.db import db
from pixtools.hotcache import HotCache, RedisHotCache
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 16}]}]})


@pytest.fixture
def cache(redis_url):
    return RedisHotCache(redis_url, f"pt_hot_{secrets.token_hex(4)}")


@pytest.fixture
def statements(server_app):
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement.split()[0])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


# --- the cache itself --------------------------------------------------------------------


def test_values_round_trip_per_variant(cache):
    cache.put("job", "a", b"one", variant="http://x/")
    cache.put("job", "a", b"two", variant="http://y/")
    assert cache.get("job", "a", "http://x/") == b"one"
    assert cache.get("job", "a", "http://y/") == b"two"
    assert cache.get("job", "b", "http://x/") is None


def test_replies_are_parsed_by_hiredis(cache):
    """The install brings hiredis (``redis[hiredis]``): redis-py's C reply parser, about a
    quarter less CPU per command than its own, on every Redis client of the service."""
    from redis._parsers import _HiredisParser

    cache.get("job", "a")
    client = cache._client
    connection = client.connection_pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
    finally:
        client.connection_pool.release(connection)


def test_forget_drops_every_variant_and_refuses_a_late_writer(cache):
    cache.put("job", "a", b"old", variant="v")
    cache.forget("job", "a")
    assert cache.get("job", "a", "v") is None
    # A reader that loaded the old state before the change must not store it again.
    cache.put("job", "a", b"old", variant="v")
    assert cache.get("job", "a", "v") is None


def test_values_live_at_most_the_cache_ttl(cache, redis_url):
    import redis

    from pixtools.apikeys import LAST_USED_RESOLUTION

    # A key's "last used" is written on a cache miss: misses must come at least that often.
    assert LAST_USED_RESOLUTION.total_seconds() > hotcache.TTL_SECONDS

    cache.put("job", "a", b"x", variant="v", ttl=3600)
    ttl = redis.Redis.from_url(redis_url).ttl(cache._keys("job", "a", "v")[0])
    assert 0 < ttl <= hotcache.TTL_SECONDS


def test_an_unreachable_redis_is_a_miss_not_an_error():
    dead = RedisHotCache("redis://127.0.0.1:1/0", "pt_dead")
    dead.put("job", "a", b"x")
    dead.forget("job", "a")
    assert dead.get("job", "a") is None


def test_desktop_mode_keeps_nothing(app):
    assert type(hotcache.get_cache(app)) is HotCache
    hotcache.get_cache(app).put("job", "a", b"x")
    assert hotcache.get_cache(app).get("job", "a") is None


# --- finished jobs' status ---------------------------------------------------------------


def _finished_job(client, consumers, headers=None) -> dict:
    response = client.post("/api/v1/jobs?wait=50", headers=headers or {}, data={
        "file": (io.BytesIO(make_image((32, 24), "PNG")), "a.png"), "recipe": RECIPE,
    }, content_type="multipart/form-data")
    job = response.get_json()
    if job.get("status") != "succeeded":
        raise AssertionError(f"{job}\n" + "\n".join(c.output() for c in consumers))
    return job


def test_a_finished_jobs_status_is_answered_without_the_database(server_app, consumers,
                                                                 statements):
    client = server_app.test_client()
    job = _finished_job(client, consumers)
    first = client.get(f"/api/v1/jobs/{job['id']}")
    statements.clear()
    again = client.get(f"/api/v1/jobs/{job['id']}")
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert statements == []
    assert "X-Amz-Signature=" in again.get_json()["outputs"][0]["url"]


def _new_key(app) -> dict[str, str]:
    made = app.test_cli_runner().invoke(args=["pixtools", "apikey", "create", "--name", "t"])
    return {"Authorization": f"Bearer {made.output.splitlines()[1]}"}


def test_someone_elses_cached_job_is_still_a_404(server_app, consumers):
    client = server_app.test_client()
    owner, stranger = _new_key(server_app), _new_key(server_app)
    job = _finished_job(client, consumers, owner)
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=owner).status_code == 200  # cached
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=stranger).status_code == 404


def test_a_keyed_status_request_reads_key_and_answer_in_one_round_trip(server_app, consumers,
                                                                        statements,
                                                                        monkeypatch):
    client = server_app.test_client()
    owner = _new_key(server_app)
    job = _finished_job(client, consumers, owner)
    first = client.get(f"/api/v1/jobs/{job['id']}", headers=owner)  # keeps the answer
    cache = hotcache.get_cache(server_app)
    sent: list[list[str]] = []
    mget = cache._client.mget
    monkeypatch.setattr(cache._client, "mget", lambda keys: sent.append(list(keys)) or mget(keys))
    statements.clear()
    again = client.get(f"/api/v1/jobs/{job['id']}", headers=owner)
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert statements == []
    # One MGET: the key's entry and tombstone, the answer's entry and tombstone.
    assert len(sent) == 1 and len(sent[0]) == 4, sent


def test_deleting_a_job_drops_its_cached_answer(server_app, consumers):
    client = server_app.test_client()
    job = _finished_job(client, consumers)
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 200
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404


def test_retrying_a_failed_job_drops_its_cached_answer(server_app, consumers):
    from pixtools import jobs
    from pixtools.models import Job

    client = server_app.test_client()
    bad = json.dumps({"outputs": [{"steps": [{"op": "crop", "width": 4000, "height": 10}]}]})
    response = client.post("/api/v1/jobs?wait=50", data={
        "file": (io.BytesIO(make_image((32, 24), "PNG")), "a.png"), "recipe": bad,
    }, content_type="multipart/form-data")
    job = response.get_json()
    assert job["status"] == "failed", job
    assert client.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "failed"  # cached
    for consumer in consumers:
        consumer.stop()  # so the retried job stays queued while we look
    db.session.expire_all()
    jobs.retry(db.session.get(Job, job["id"]))
    assert client.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "queued"


# --- API keys ----------------------------------------------------------------------------


def test_a_revoked_key_is_refused_at_once_though_it_was_cached(server_app, statements):
    runner = server_app.test_cli_runner()
    created = runner.invoke(args=["pixtools", "apikey", "create", "--name", "script"])
    secret, key_id = created.output.splitlines()[1], created.output.split()[3]
    client = server_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/jobs/none", headers=headers).status_code == 404
    statements.clear()
    assert client.get("/api/v1/jobs/none", headers=headers).status_code == 404
    assert len(statements) == 1  # the job lookup only: the key came from the cache
    revoked = runner.invoke(args=["pixtools", "apikey", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    refused = client.get("/api/v1/jobs/none", headers=headers)
    assert refused.status_code == 401
