"""``flask pixtools …``: help and errors, jobs, cleanup on real files and objects, lifecycle."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.environment import REPO, settings_from_env
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 32}]},
                                 {"steps": [{"op": "convert", "format": "webp"}]}]})

COMMANDS = [
    [], ["cleanup"], ["jobs"], ["jobs", "list"], ["jobs", "show"],
    ["lifecycle"], ["lifecycle", "show"], ["lifecycle", "apply"],
    ["model"], ["model", "fetch"], ["model", "verify"],
]


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["pixtools", *args], catch_exceptions=False)


def submit(app: Any) -> str:
    response = app.test_client().post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((48, 32))), "cat photo.jpg"), "recipe": RECIPE},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def make_expired(job_id: str) -> None:
    # Test set-up: move the expiry time into the past, as time passing would.
    from pixtools.db import db
    from pixtools.models import Job, utcnow

    db.session.get(Job, job_id).expires_at = utcnow() - timedelta(minutes=5)
    db.session.commit()


def status_of(job_id: str) -> str:
    from pixtools.db import db
    from pixtools.models import Job

    db.session.expire_all()
    return str(db.session.get(Job, job_id).status)


# --- help and bad arguments -------------------------------------------------------------


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pixtools")
def test_every_command_has_help(app, path):
    result = invoke(app, *path, "--help")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert len(result.output.splitlines()) > 3


def test_group_lists_its_commands(app):
    output = invoke(app, "--help").output
    for name in ("cleanup", "jobs", "lifecycle", "model"):
        assert name in output


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["jobs", "list", "--limit", "0"], 2, "Invalid value for '--limit'"),
        (["jobs", "list", "--status", "lost"], 2, "Invalid value for '--status'"),
        (["jobs", "show"], 2, "Missing argument 'JOB_ID'"),
        (["jobs", "show", "no-such-job"], 1, "No job 'no-such-job'"),
        (["jobs", "purge"], 2, "No such command 'purge'"),
        (["cleanup", "--orphan-grace-minutes", "-5"], 2, "Invalid value"),
        (["cleanup", "--now"], 2, "No such option '--now'"),
        (["lifecycle", "delete"], 2, "No such command 'delete'"),
    ],
)
def test_bad_arguments_get_a_clear_error(app, args, code, words):
    result = invoke(app, *args)
    assert result.exit_code == code
    assert words in result.output


# --- jobs ---------------------------------------------------------------------------------


def test_jobs_list_and_show(app):
    first, second = submit(app), submit(app)
    listing = invoke(app, "jobs", "list")
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "STATUS"]
    assert lines[1].startswith(second) and lines[2].startswith(first)  # newest first
    assert "cat photo.jpg (jpeg 48×32)" in lines[1]
    assert invoke(app, "jobs", "list", "--limit", "1").stdout.count("\n") == 2
    assert invoke(app, "jobs", "list", "--status", "failed").stdout == "No jobs match.\n"

    as_json = json.loads(invoke(app, "jobs", "list", "--json", "--status", "queued").stdout)
    assert [job["id"] for job in as_json] == [second, first]

    shown = invoke(app, "jobs", "show", first)
    assert shown.exit_code == 0
    assert shown.output.startswith(f"Job {first}: queued")
    assert "output 1: queued" in shown.output and "output 2: queued" in shown.output
    resize_line = next(line for line in shown.stdout.splitlines() if "step 1 resize {" in line)
    assert '"width": 32' in resize_line and resize_line.endswith("on standard: queued")
    record = json.loads(invoke(app, "jobs", "show", first, "--json").stdout)
    assert record["source"]["key"] == f"jobs/{first}/source"
    assert [o["steps"][0]["op"] for o in record["outputs"]] == ["resize", "convert"]
    assert "url" not in json.dumps(record)  # keys for operators, never signed links


# --- cleanup: desktop folder --------------------------------------------------------------


def age(path: Path, hours: float) -> None:
    past = time.time() - hours * 3600
    os.utime(path, (past, past))


def test_cleanup_dry_run_then_real_run_on_local_files(app):
    from pixtools.storage import get_storage

    storage = get_storage(app)
    old, fresh = submit(app), submit(app)
    make_expired(old)
    storage.put(f"jobs/{old}/output-0.png", b"png", "image/png")
    storage.put("jobs/ghost/source", b"x", "application/octet-stream")
    # An orphan stored under the earlier layout (outputs/<n>/) is found and removed too.
    storage.put("jobs/ghost/outputs/0/result.webp", b"x", "image/webp")
    for key in ("jobs/ghost/source", "jobs/ghost/outputs/0/result.webp"):
        age(storage.path(key), hours=3)
    storage.put("jobs/uploading/source", b"x", "application/octet-stream")  # just written
    before = sorted(storage.keys())

    dry = invoke(app, "cleanup", "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines() == [
        "Dry run: nothing was changed.",
        "Would expire 1 job(s) past their expiry time (2 object(s)).",
        "Would remove 2 orphan object(s) of 1 job folder(s) with no live job.",
        "Kept 1 job folder(s) without a job row: younger than the grace period "
        "(an upload may be in progress).",
    ]
    assert sorted(storage.keys()) == before
    assert status_of(old) == "queued"

    real = invoke(app, "cleanup")
    assert real.exit_code == 0
    assert "Expired 1 job(s) past their expiry time (2 object(s))." in real.output
    assert "Removed 2 orphan object(s) of 1 job folder(s)" in real.output
    assert list(storage.keys(f"jobs/{old}/")) == []
    assert list(storage.keys("jobs/ghost/")) == []
    assert list(storage.keys("jobs/uploading/")) == ["jobs/uploading/source"]
    assert list(storage.keys(f"jobs/{fresh}/")) == [f"jobs/{fresh}/source"]
    assert status_of(old) == "expired" and status_of(fresh) == "queued"
    # The history shows it as expired, with nothing left to download.
    body = app.test_client().get(f"/api/v1/jobs/{old}").get_json()
    assert body["status"] == "expired" and body["finished_at"]

    # A late result written for the expired job is removed by the next run; so is the
    # young folder once the grace period is set to nothing.
    storage.put(f"jobs/{old}/output-1.webp", b"late", "image/webp")
    again = invoke(app, "cleanup", "--orphan-grace-minutes", "0")
    assert "Expired 0 job(s)" in again.output
    assert "Removed 2 orphan object(s) of 2 job folder(s)" in again.output
    assert sorted(storage.keys("jobs/")) == [f"jobs/{fresh}/source"]


def test_cleanup_is_a_periodic_task_on_the_standard_queue(app):
    from pixtools.queues import get_queues

    queues = get_queues(app)
    expired = submit(app)
    make_expired(expired)
    def cleanups_due(huey: Any, minute: int) -> list[Any]:
        return [t for t in huey.read_periodic(datetime(2026, 1, 1, 10, minute))
                if t.name == "cleanup"]

    due = cleanups_due(queues.standard, 15)
    assert len(due) == 1
    assert cleanups_due(queues.standard, 7) == []  # every 15 minutes, not every minute
    assert cleanups_due(queues.ml, 15) == []
    queues.standard.execute(due[0])  # what the consumer's scheduler does
    assert status_of(expired) == "expired"


# --- server mode: S3 ------------------------------------------------------------------------


def test_cleanup_on_s3_objects(server_app):
    from pixtools.storage import get_storage

    storage = get_storage(server_app)
    old, fresh = submit(server_app), submit(server_app)
    make_expired(old)
    storage.put("jobs/ghost/source", b"x", "application/octet-stream")

    dry = invoke(server_app, "cleanup", "--dry-run", "--orphan-grace-minutes", "0")
    assert dry.exit_code == 0 and "Would expire 1 job(s)" in dry.output
    assert "Would remove 1 orphan object(s)" in dry.output
    assert list(storage.keys("jobs/ghost/")) == ["jobs/ghost/source"]
    assert status_of(old) == "queued"

    # With the default grace period, the just-written orphan stays.
    kept = invoke(server_app, "cleanup")
    assert "Kept 1 job folder(s) without a job row" in kept.output
    assert list(storage.keys(f"jobs/{old}/")) == [] and status_of(old) == "expired"

    invoke(server_app, "cleanup", "--orphan-grace-minutes", "0")
    assert sorted(storage.keys("jobs/")) == [f"jobs/{fresh}/source"]
    assert status_of(fresh) == "queued"


def test_cleanup_reports_storage_errors_and_changes_no_row(server_env, server_app):
    from pixtools import create_app

    job_id = submit(server_app)
    make_expired(job_id)
    # The same database, but a bucket that does not exist: nothing can be deleted.
    broken = create_app({**settings_from_env(server_env), "storage_url": "s3://no-such-bucket/"})
    with broken.app_context():
        result = invoke(broken, "cleanup")
    assert result.exit_code == 1
    assert f"Error: job {job_id}: cannot list bucket 'no-such-bucket'" in result.output
    assert "Error: cannot list stored objects" in result.output
    assert "could not be cleaned (see above); they are retried on the next run" in result.output
    assert status_of(job_id) == "queued"


@pytest.fixture
def s3(s3_server: dict[str, str]) -> Any:
    return boto3.client("s3", endpoint_url=s3_server["endpoint_url"])


def test_lifecycle_apply_writes_rules_and_keeps_others(server_env, server_app, s3):
    from pixtools import create_app

    bucket = server_env["PIXTOOLS_STORAGE_URL"].removeprefix("s3://").split("/")[0]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "operator-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 30},
    }]})
    app = create_app({**settings_from_env(server_env), "job_ttl_hours": 36})
    with app.app_context():  # commands use the current app: this one, not the fixture's
        shown = invoke(app, "lifecycle", "show")
        assert shown.exit_code == 0
        assert "retention 2 day(s)" in shown.output
        assert "operator-logs: under 'logs/': expire objects after 30 day(s)" in shown.output
        assert "Run `pixtools lifecycle apply`" in shown.output

        for _ in range(2):  # applying twice changes nothing the second time
            applied = invoke(app, "lifecycle", "apply")
            assert applied.exit_code == 0, applied.output
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert set(rules) == {"operator-logs", "pixtools-expire-jobs",
                              "pixtools-abort-incomplete-uploads"}
        assert rules["pixtools-expire-jobs"]["Filter"]["Prefix"] == "images/jobs/"
        assert rules["pixtools-expire-jobs"]["Expiration"]["Days"] == 2
        assert rules["pixtools-expire-jobs"]["Status"] == "Enabled"
        abort = rules["pixtools-abort-incomplete-uploads"]
        assert abort["Filter"]["Prefix"] == "images/"
        assert abort["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
        assert rules["operator-logs"]["Expiration"]["Days"] == 30
        assert "Run `pixtools lifecycle apply`" not in invoke(app, "lifecycle", "show").output


def test_lifecycle_error_names_the_bucket(server_env, server_app):
    from pixtools import create_app

    app = create_app({**settings_from_env(server_env), "storage_url": "s3://no-such-bucket/x"})
    with app.app_context():
        result = invoke(app, "lifecycle", "apply")
    assert result.exit_code == 1
    assert "cannot read the lifecycle rules of bucket 'no-such-bucket'" in result.output


@pytest.mark.parametrize(("hours", "days"), [(1, 1), (24, 1), (24.5, 2), (72, 3), (0.1, 1)])
def test_retention_is_whole_days_rounded_up(hours, days):
    from pixtools.config import load_settings
    from pixtools.storage.lifecycle import retention_days

    assert retention_days(load_settings({"job_ttl_hours": hours})) == days


def test_lifecycle_in_desktop_mode_explains_cleanup(app):
    for action in ("show", "apply"):
        result = invoke(app, "lifecycle", action)
        assert result.exit_code == 0
        assert "`flask pixtools cleanup`" in result.output
        assert "every 15 minutes" in result.output


def test_the_real_flask_command(tmp_path):
    env = {**os.environ, "PIXTOOLS_DATA_DIR": str(tmp_path), "PIXTOOLS_MODE": "desktop",
           "PYTHONPATH": str(REPO)}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    upgrade = subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert '"message": "Running upgrade' in upgrade.stderr  # alembic logs as JSON too
    listing = subprocess.run([*flask, "pixtools", "--help"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "lifecycle" in listing.stdout
    dry = subprocess.run([*flask, "pixtools", "cleanup", "--dry-run"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run: nothing was changed.")
    assert json.loads(dry.stderr.splitlines()[-1])["message"] == "cleanup done"


# --- model weights ----------------------------------------------------------------------------


@pytest.fixture
def weights_server(tmp_path: Path) -> Any:
    """A local HTTP server with the real weights under their released names (and DnCNN's as
    dncnn.pth) and a file that is not them; its ``bad`` folder holds wrong FFDNet files."""
    import functools
    import http.server
    import threading

    from tests.support.environment import SHARED

    served = tmp_path / "served"
    (served / "bad").mkdir(parents=True)
    models = SHARED / "models"
    (served / "dncnn.pth").write_bytes((models / "dncnn_color_blind.pth").read_bytes())
    for name in ("dncnn_color_blind.pth", "ffdnet_color.pth", "ffdnet_color_clip.pth"):
        (served / name).write_bytes((models / name).read_bytes())
        (served / "bad" / name).write_bytes((models / name).read_bytes()[:-1] + b"x")
    (served / "other.pth").write_bytes(b"not the weights" * 100)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_model_fetch_and_verify(tmp_path, weights_server):
    from pixtools import create_app

    target = tmp_path / "models" / "dncnn.pth"
    ffdnet = tmp_path / "models" / "ffdnet_color.pth"
    clip = tmp_path / "models" / "ffdnet_color_clip.pth"
    app = create_app({"data_dir": tmp_path / "data", "secret_key": "s", "dncnn_weights": target})
    base = ["--base-url", weights_server]
    with app.app_context():
        missing = invoke(app, "model", "verify")
        assert missing.exit_code == 1 and "not found" in missing.output
        assert all(f"{name} weights not found" in missing.output
                   for name in ("DnCNN", "FFDNet", "FFDNet-clip"))

        wrong = invoke(app, "model", "fetch", "--url", f"{weights_server}/other.pth", *base)
        assert wrong.exit_code == 1 and "sha256" in wrong.output
        assert not target.exists()  # nothing half-written
        assert ffdnet.exists() and clip.exists()  # FFDNet's came, beside DnCNN's

        fetched = invoke(app, "model", "fetch", "--url", f"{weights_server}/dncnn.pth", *base)
        assert fetched.exit_code == 0, fetched.output
        assert "DnCNN weights downloaded and verified" in fetched.stdout
        assert "FFDNet weights already present" in fetched.stdout
        verified = invoke(app, "model", "verify")
        assert verified.exit_code == 0, verified.output
        assert verified.output.count("weights OK") == 3
        again = invoke(app, "model", "fetch", "--url", f"{weights_server}/other.pth", *base)
        assert again.exit_code == 0 and "already present" in again.stdout

        target.write_bytes(target.read_bytes()[:-1] + b"x")
        corrupt = invoke(app, "model", "verify")
        assert corrupt.exit_code == 1 and "sha256" in corrupt.output


def test_model_fetch_refuses_wrong_ffdnet_files(tmp_path, weights_server):
    from pixtools import create_app

    folder = tmp_path / "models"
    app = create_app({"data_dir": tmp_path / "data", "secret_key": "s",
                      "dncnn_weights": folder / "dncnn_color_blind.pth"})
    with app.app_context():
        bad = invoke(app, "model", "fetch", "--base-url", f"{weights_server}/bad")
        assert bad.exit_code == 1
        for name in ("DnCNN", "FFDNet", "FFDNet-clip"):
            assert "has sha256" in bad.output and name in bad.output
        assert not list(folder.glob("*.pth")) and not list(folder.glob(".*part"))
        good = invoke(app, "model", "fetch", "--base-url", weights_server)
        assert good.exit_code == 0, good.output
        assert sorted(p.name for p in folder.glob("*.pth")) == [
            "dncnn_color_blind.pth", "ffdnet_color.pth", "ffdnet_color_clip.pth"]
