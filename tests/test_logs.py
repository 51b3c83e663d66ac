"""JSON logs: request ids from the API into the consumers' task lines, signals, redaction."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import requests

from tests.support.environment import wait_for
from tests.support.images import make_image
from tests.support.servers import Gunicorn, json_lines

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 64},
                                            {"op": "convert", "format": "png"}]}]})


def post_job(client, **kwargs):
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((96, 64))), "photo.jpg"), "recipe": RECIPE},
        content_type="multipart/form-data",
        **kwargs,
    )


def records(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("given", ["9f1c2d4e-0b6a-4c3e-9d2f-7a8b9c0d1e2f", "edge-lb.42:7"])
def test_well_formed_request_id_is_kept(client, given):
    response = client.get("/api/health", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 65, "<script>", "-leading"])
def test_missing_or_malformed_request_id_is_replaced(client, given):
    headers = {"X-Request-ID": given} if given is not None else {}
    response = client.get("/api/health", headers=headers)
    returned = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert returned != given
    # Each request gets its own.
    assert client.get("/api/health").headers["X-Request-ID"] != returned


def test_request_id_is_stored_on_the_job_and_logged(app, client, capsys):
    response = post_job(client, headers={"X-Request-ID": "trace-0001"})
    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == "trace-0001"
    from pixtools.db import db
    from pixtools.models import Job

    job_id = response.get_json()["id"]
    assert db.session.get(Job, job_id).request_id == "trace-0001"
    lines = records(capsys.readouterr().err)
    request_line = next(r for r in lines if r["message"] == "request")
    assert request_line["request_id"] == "trace-0001"
    assert request_line["method"] == "POST" and request_line["path"] == "/api/v1/jobs"
    assert request_line["status"] == 202 and request_line["level"] == "INFO"
    assert {"timestamp", "level", "logger", "message"} <= set(request_line)
    submitted = next(r for r in lines if r["message"] == "job submitted")
    assert submitted["job_id"] == job_id and submitted["request_id"] == "trace-0001"


def test_sensitive_values_never_reach_the_output(app, capsys):
    log = logging.getLogger("pixtools.test")
    presigned = ("https://bucket.s3.amazonaws.com/jobs/a/result.png?X-Amz-Algorithm=AWS4"
                 "&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=abcdef0123456789")
    local = "http://127.0.0.1:8000/files/jobs/a/result.png?expires=99&name=a.png&sig=deadbeef42"
    log.info("download at %s and %s", presigned, local,
             extra={"webhook_secret": "whsec_topsecret", "api_key": "pt_live_key123",
                    "gps": {"lat": 48.85, "lon": 2.35},
                    "target": "postgresql://pixtools:hunter2@db/pixtools",
                    "headers": {"Authorization": "Bearer abcdefghijklmnop"}})
    out = capsys.readouterr().err
    for secret in ("abcdef0123456789", "AKIAEXAMPLE", "deadbeef42", "whsec_topsecret",
                   "pt_live_key123", "48.85", "hunter2", "abcdefghijklmnop"):
        assert secret not in out
    line = records(out)[-1]
    assert line["webhook_secret"] == line["api_key"] == line["gps"] == "[redacted]"
    assert "expires=99&name=a.png" in line["message"]  # the rest of the URL stays readable
    assert line["target"] == "postgresql://pixtools:[redacted]@db/pixtools"


def test_task_failure_is_logged_once_with_traceback(app, capsys):
    from pixtools.queues import get_queues

    huey = get_queues(app).standard

    @huey.task(retries=1, name="explode")
    def explode(step_id: int, log_context: dict | None = None) -> None:
        logging.getLogger("pixtools.test").info("about to fail")
        raise ValueError("kaboom")

    explode(7, log_context={"job_id": "job-xyz", "request_id": "trace-task"})
    huey.execute(huey.dequeue())          # first attempt: fails, is requeued
    huey.execute(huey.dequeue())          # second attempt: fails for good
    lines = [r for r in records(capsys.readouterr().err) if r.get("task") == "explode"]
    messages = [r["message"] for r in lines]
    assert messages == [
        "task started", "about to fail", "task failed", "task will be retried",
        "task started", "about to fail", "task failed",
    ]
    assert [r["attempt"] for r in lines if r["message"] == "task started"] == [1, 2]
    for line in lines:
        assert line["job_id"] == "job-xyz" and line["request_id"] == "trace-task"
        assert line["queue"] == "standard"
    failures = [r for r in lines if r["message"] == "task failed"]
    assert all("ValueError: kaboom" in r["exc_info"] for r in failures)
    assert [r["retries_left"] for r in failures] == [1, 0]
    # Huey's own duplicate of the failure is not printed.
    assert "Unhandled exception in task" not in capsys.readouterr().err


def test_request_id_follows_a_job_from_gunicorn_into_the_consumer(
    server_env, consumers, tmp_path
):
    api = Gunicorn(server_env, tmp_path / "gunicorn.log")
    try:
        api.wait_ready()
        reply = requests.post(
            f"{api.url}/api/v1/jobs",
            files={"file": ("photo.jpg", make_image((96, 64)), "image/jpeg")},
            data={"recipe": RECIPE}, headers={"X-Request-ID": "req-e2e-42"}, timeout=10,
        )
        assert reply.status_code == 202, reply.text
        assert reply.headers["X-Request-ID"] == "req-e2e-42"
        job_url = f"{api.url}/api/v1/jobs/{reply.json()['id']}"
        job = wait_for(lambda: (b := requests.get(job_url, timeout=5).json())["status"]
                       in ("succeeded", "failed") and b, timeout=60)
        assert job["status"] == "succeeded", job
        assert "X-Amz-Signature=" in job["outputs"][0]["url"]  # a signed URL was handed out
        wait_for(lambda: "task finished" in consumers[0].output(), timeout=10)
    finally:
        api.stop()

    api_lines = json_lines(api.output())
    consumer_lines = json_lines(consumers[0].output())
    submitted = [r for r in api_lines if r.get("message") == "job submitted"]
    assert submitted and submitted[0]["request_id"] == "req-e2e-42"
    assert submitted[0]["job_id"] == job["id"]
    assert any(r.get("message") == "request" and r.get("request_id") == "req-e2e-42"
               and r.get("path") == "/api/v1/jobs" for r in api_lines)

    task_lines = [r for r in consumer_lines if r.get("job_id") == job["id"]]
    assert {"task started", "step done", "job finished", "task finished"} <= {
        r["message"] for r in task_lines
    }
    for line in task_lines:
        assert line["request_id"] == "req-e2e-42"
        assert line["queue"] == "standard" and line["attempt"] == 1
    assert {r.get("step") for r in task_lines if r["message"] == "step done"} == {
        "resize", "convert",
    }
    everything = api.output() + consumers[0].output()
    assert "X-Amz-Signature" not in everything and "server-test-secret" not in everything
