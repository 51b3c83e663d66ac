"""Database round trips of a job: a thumbnail job's steps and a status request stay few,
and the states they record are exactly those of a step-by-step run.

Huey runs the tasks as they are enqueued (immediate mode) on a real SQLite database; every
statement the engine sends is counted.
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import event

from pixtools.db import db
from pixtools.models import Job
from pixtools.queues import get_queues
from tests.support.images import make_image

THUMBNAIL = {"outputs": [{"steps": [
    {"op": "resize", "width": 64, "height": 64},
    {"op": "convert", "format": "jpeg", "quality": 80},
]}]}


@pytest.fixture
def statements(app):
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()[:3]).upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def _post(client, recipe: dict) -> dict:
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((200, 150), "JPEG")), "photo.jpg"),
              "recipe": json.dumps(recipe)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    body: dict = response.get_json()
    return body


def test_thumbnail_steps_need_few_statements_and_record_every_state(app, statements):
    queues = get_queues(app)
    queues.standard.immediate = True
    try:
        body = _post(app.test_client(), THUMBNAIL)
    finally:
        queues.standard.immediate = False
    # Submission and both steps: 36 statements when every commit re-read the step, its
    # output and its job; 30 with crash safety (claims, leases, exactly-once finalisation);
    # 15 since rows stay loaded across commits, the claim and the finalisation are one
    # conditional UPDATE each (RETURNING), and enqueued_at is written with the step; 17
    # with fenced final writes (each step's end is a conditional UPDATE on its claim); 13
    # since the fence and the write are one statement, the task loads the job's rows in one
    # query, and the result and the job's end commit together.
    assert len(statements) <= 13, statements
    with app.app_context():
        job = db.session.get(Job, body["id"])
        assert job is not None and job.status == "succeeded" and job.finished_at
        output = job.outputs[0]
        assert output.status == "succeeded" and (output.width, output.height) == (64, 48)
        for step in output.steps:
            assert (step.status, step.progress) == ("succeeded", 100)
            assert step.started_at is not None and step.finished_at is not None
            assert step.started_at <= step.finished_at


def test_a_status_request_reads_the_job_in_one_query(app, statements):
    client = app.test_client()
    created = _post(client, {"outputs": [THUMBNAIL["outputs"][0]] * 3})
    db.session.remove()  # requests here share the test's session: start from an empty one
    statements.clear()
    body = client.get(f"/api/v1/jobs/{created['id']}").get_json()
    assert [s.split()[0] for s in statements] == ["SELECT"]
    assert len(body["outputs"]) == 3
    assert [[s["op"] for s in o["steps"]] for o in body["outputs"]] == [["resize", "convert"]] * 3
    assert [o["steps"][0]["status"] for o in body["outputs"]] == ["queued"] * 3


def test_a_download_reads_only_its_jobs_expiry(app, statements):
    get_queues(app).standard.immediate = True
    client = app.test_client()
    created = _post(client, THUMBNAIL)
    url = client.get(f"/api/v1/jobs/{created['id']}").get_json()["outputs"][0]["url"]
    db.session.remove()
    statements.clear()
    reply = client.get(url)
    assert reply.status_code == 200 and reply.data[:2] == b"\xff\xd8"
    assert len(statements) == 1 and statements[0].startswith("SELECT JOBS.EXPIRES_AT")
