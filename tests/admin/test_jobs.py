"""Dead letters: ``flask pixtools jobs failed`` lists them, ``… jobs retry <id>`` re-drives."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

from tests.support.environment import REPO
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [
    {"steps": [{"op": "resize", "width": 20}, {"op": "convert", "format": "png"}]},
    {"steps": [{"op": "convert", "format": "webp"}]},
]})


def submit(app: Any) -> str:
    response = app.test_client().post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((40, 30))), "cat.jpg"), "recipe": RECIPE},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202
    return str(response.get_json()["id"])


def run_job(job_id: str) -> Any:
    """Run every queued first step here, as the consumers would, and return the job."""
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks.pipeline import run_steps

    db.session.expire_all()
    job = db.session.get(Job, job_id)
    firsts = [o.steps[0].id for o in job.outputs if o.steps[0].status == "queued"]
    for step_id in firsts:
        run_steps(step_id)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["pixtools", "jobs", *args])


def test_storage_failure_is_a_dead_letter_that_retry_re_drives(app):
    from pixtools.storage import get_storage

    assert "No failed steps waiting for a retry." in cli(app, "failed").output
    job_id = submit(app)
    storage = get_storage(app)
    source = storage.get(f"jobs/{job_id}/source")
    storage.delete_prefix(f"jobs/{job_id}/source")  # storage lost the upload

    job = run_job(job_id)
    assert job.status == "failed"
    # The user reads a generic reason; the operator's listing has the storage's own error.
    assert "storage problem on the server" in job.error and "no object" not in job.error

    listing = cli(app, "failed")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split()[:4] == ["failed", "at", "(UTC)", "job"]
    rows = [line for line in lines[1:] if job_id in line]
    assert len(rows) == 2  # both outputs failed on their first step
    assert all("no object" in row for row in rows)
    with_trace = cli(app, "failed", "--traceback").output
    assert "Traceback (most recent call last)" in with_trace and "StorageError" in with_trace
    letters = [json.loads(line) for line in cli(app, "failed", "--json").output.splitlines()]
    assert {(d["job_id"], d["output"], d["step"], d["op"], d["attempts"]) for d in letters} == {
        (job_id, 1, 1, "resize", 1), (job_id, 2, 1, "convert", 1)}

    storage.put(f"jobs/{job_id}/source", source, "application/octet-stream")  # restored
    retried = cli(app, "retry", job_id)
    assert retried.exit_code == 0, retried.output
    assert "output 1: queued again from step 1 (resize) on the standard queue" in retried.output
    assert f"Job {job_id} is queued again." in retried.output
    assert "No failed steps waiting" in cli(app, "failed").output
    assert "[retried]" in cli(app, "failed", "--all").output

    job = run_job(job_id)
    assert job.status == "succeeded", job.error
    assert job.error is None
    assert all(o.status == "succeeded" and o.error is None for o in job.outputs)


def test_retry_resumes_a_partly_failed_job_and_keeps_what_succeeded(app):
    from sqlalchemy import update

    from pixtools import jobs
    from pixtools.db import db
    from pixtools.models import Job, Output, Step
    from pixtools.tasks.pipeline import run_steps

    job_id = submit(app)
    job = run_job(job_id)
    assert job.status == "succeeded"
    kept = job.outputs[1].result_key
    # Back to the moment output 1 was storing its result, which then failed.
    convert = job.outputs[0].steps[1]
    db.session.execute(update(Job).where(Job.id == job_id).values(status="running",
                                                                  finished_at=None))
    db.session.execute(update(Output).where(Output.id == convert.output_id)
                       .values(status="running"))
    db.session.execute(update(Step).where(Step.id == convert.id).values(status="running"))
    db.session.commit()
    jobs.fail_step(db.session.get(Step, convert.id), "disk full", dead_letter=True,
                   trace="Traceback: disk full")
    assert jobs.get_for_owner(job_id, "public").error == "output 1: step 2 (convert): disk full"

    assert cli(app, "retry", job_id).exit_code == 0
    db.session.expire_all()
    job = jobs.get_for_owner(job_id, "public")
    # Resize and convert run in one task on one queue, so the output resumes at resize.
    assert [s.status for s in job.outputs[0].steps] == ["queued", "queued"]
    assert job.outputs[1].status == "succeeded" and job.outputs[1].result_key == kept
    run_steps(job.outputs[0].steps[0].id)
    db.session.expire_all()
    assert jobs.get_for_owner(job_id, "public").status == "succeeded"


def test_input_failures_are_not_dead_letters(app):
    from pixtools.storage import get_storage

    job_id = submit(app)
    get_storage(app).put(f"jobs/{job_id}/source", b"not an image at all", "image/jpeg")
    job = run_job(job_id)
    assert job.status == "failed"
    assert "No failed steps waiting" in cli(app, "failed").output


def test_retry_refuses_unknown_unfinished_and_expired_jobs(app):
    from sqlalchemy import update

    from pixtools.db import db
    from pixtools.models import Job, utcnow
    from pixtools.storage import get_storage

    result = cli(app, "retry", "no-such-job")
    assert result.exit_code != 0
    assert "No job 'no-such-job'" in result.output
    job_id = submit(app)
    result = cli(app, "retry", job_id)
    assert result.exit_code != 0
    assert f"Job {job_id} is queued: only failed jobs can be retried." in result.output
    get_storage(app).put(f"jobs/{job_id}/source", b"garbage", "image/jpeg")
    assert run_job(job_id).status == "failed"
    db.session.execute(update(Job).where(Job.id == job_id).values(expires_at=utcnow()))
    db.session.commit()
    result = cli(app, "retry", job_id)
    assert result.exit_code != 0
    assert "has expired" in result.output


def test_new_job_ids_never_begin_with_a_dash():
    from pixtools.models import new_job_id

    # One id in 64 began with "-" before: 4000 would hold ~62 of them.
    ids = {new_job_id() for _ in range(4000)}
    assert len(ids) == 4000
    assert not [job_id for job_id in ids if job_id.startswith("-")]
    assert all(len(job_id) == 22 for job_id in ids)


def test_an_older_id_beginning_with_a_dash_is_taken_as_the_id(app, monkeypatch):
    from pixtools.jobs import creation as submission

    monkeypatch.setattr(submission, "new_job_id", lambda: "-YiIYYFg7pdSDPxaxjXudQ")
    job_id = submit(app)
    assert job_id == "-YiIYYFg7pdSDPxaxjXudQ"
    result = cli(app, "retry", job_id)
    assert f"Job {job_id} is queued: only failed jobs can be retried." in result.output
    shown = cli(app, "show", job_id)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"Job {job_id}: queued")
    assert json.loads(cli(app, "show", job_id, "--json").stdout)["id"] == job_id


def test_the_flask_command_line_has_the_jobs_commands(tmp_path):
    from pixtools import create_app, db

    db.upgrade(create_app({"data_dir": tmp_path, "secret_key": "x"}))
    env = {**os.environ, "PIXTOOLS_DATA_DIR": str(tmp_path), "PIXTOOLS_SECRET_KEY": "x",
           "PYTHONPATH": str(REPO)}
    env.pop("PIXTOOLS_MODE", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "pixtools", "jobs", "failed"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "No failed steps waiting for a retry." in result.stdout
