"""Expiry is enforced when a job is read: past ``expires_at`` the job is ``expired`` for every
reader at once (before cleanup runs), no link is signed past it, its downloads and bundle
answer 410 with a reason, and cleanup later clears its secret and purges its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pixtools import create_app, db
from pixtools.models import Job
from tests.support.contract import watch
from tests.support.webhooks import run_job, submit

DAY = 24 * 3600


def _later_app(config: dict[str, Any], seconds: float, **extra: Any) -> Any:
    """The same data seen by an app whose clock is ``seconds`` ahead."""
    later = create_app({**config, "clock_offset_seconds": seconds, **extra})
    drifts = watch(later)
    later.extensions["test.drifts"] = drifts
    return later


def test_an_expired_job_is_expired_everywhere_before_cleanup(desktop_config, app, client):
    job_id = submit(client, None).get_json()["id"]
    run_job(job_id)
    fresh = client.get(f"/api/v1/jobs/{job_id}").get_json()
    (output,) = fresh["outputs"]
    assert fresh["status"] == "succeeded" and output["url"]
    link = urlsplit(output["url"])

    later = _later_app(desktop_config, DAY + 60)
    visitor = later.test_client()
    with later.app_context():
        body = visitor.get(f"/api/v1/jobs/{job_id}").get_json()
        assert body["status"] == "expired"
        assert all(o.get("url") is None for o in body["outputs"])
        listed = visitor.get("/api/v1/jobs").get_json()["jobs"]
        assert [j["status"] for j in listed if j["id"] == job_id] in ([], ["expired"])
        for path in (f"{link.path}?{link.query}", f"/api/v1/jobs/{job_id}/bundle.zip"):
            reply = visitor.get(path)
            assert reply.status_code == 410, path
            assert reply.mimetype == "application/problem+json"
            problem = reply.get_json()
            assert problem["error"] == "expired" and "expired at" in problem["message"]
        db.db.session.remove()
        db.db.engine.dispose()
    assert later.extensions["test.drifts"] == []
    # Cleanup has not run: the row still says succeeded, yet nobody is served its files.
    assert db.db.session.get(Job, job_id).status == "succeeded"


def test_no_link_is_signed_past_the_jobs_expiry(app, client):
    job_id = submit(client, None).get_json()["id"]
    run_job(job_id)
    job = db.db.session.get(Job, job_id)
    soon = datetime.now(UTC) + timedelta(seconds=120)  # the links live 900 s by default
    job.expires_at = soon
    db.db.session.commit()
    (output,) = client.get(f"/api/v1/jobs/{job_id}").get_json()["outputs"]
    expires = int(parse_qs(urlsplit(output["url"]).query)["expires"][0])
    assert expires <= soon.timestamp() + 1


def test_cleanup_clears_the_secret_and_purges_after_the_retention(desktop_config, request):
    from pixtools.jobs import expiry

    desktop_config["webhook_allow_private"] = "127.0.0.1/32"
    client = request.getfixturevalue("app").test_client()
    job_id = submit(client, "http://127.0.0.1:9/hook").get_json()["id"]
    run_job(job_id)
    assert db.db.session.get(Job, job_id).webhook_secret

    later = create_app({**desktop_config, "clock_offset_seconds": DAY + 60,
                        "expired_retention_hours": 1})
    with later.app_context():
        report = expiry.cleanup()
        assert report.expired_jobs == [job_id] and report.purged_jobs == 0
        job = db.db.session.get(Job, job_id)
        assert job.status == "expired" and job.webhook_secret is None
        db.db.session.remove()
        db.db.engine.dispose()

    purge = create_app({**desktop_config, "clock_offset_seconds": DAY + 2 * 3600,
                        "expired_retention_hours": 1})
    with purge.app_context():
        report = expiry.cleanup()
        assert report.purged_jobs == 1
        assert db.db.session.get(Job, job_id) is None
        db.db.session.remove()
        db.db.engine.dispose()
