"""Access control: API keys (hashed, revocable, required in server mode) and owners' jobs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys

import pytest

from tests.support.browser import bearer, browser, owners
from tests.support.environment import REPO, settings_from_env
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})


def post(client, headers=None):
    form = {"file": (io.BytesIO(make_image((16, 16))), "a.jpg"), "recipe": RECIPE}
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data",
                       headers=headers or {})


def run_cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=["pixtools", "apikey", *args])
    return result


def test_cli_creates_lists_and_revokes_keys_storing_only_a_hash(app, client):
    from pixtools.apikeys import ApiKey
    from pixtools.db import db

    created = run_cli(app, "create", "--name", "nightly export")
    assert created.exit_code == 0, created.output
    secret = created.output.splitlines()[1]
    assert secret.startswith("pxt_") and len(secret) > 40
    key_id = created.output.split()[3]
    row = db.session.get(ApiKey, key_id)
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps([str(v) for v in row.__dict__.values()])

    listed = run_cli(app, "list")
    assert key_id in listed.output and "nightly export" in listed.output
    assert "active" in listed.output and secret not in listed.output

    assert post(client, bearer(secret)).status_code == 202
    as_json = json.loads(run_cli(app, "list", "--json").output.splitlines()[0])
    assert as_json["id"] == key_id and as_json["last_used_at"] != "-"

    revoked = run_cli(app, "revoke", key_id)
    assert revoked.exit_code == 0 and f"Revoked API key {key_id}" in revoked.output
    assert "revoked" in run_cli(app, "list").output
    refused = post(client, bearer(secret))
    assert refused.status_code == 401
    assert "unknown or has been revoked" in refused.get_json()["message"]
    missing = run_cli(app, "revoke", "nope")
    assert missing.exit_code != 0 and "no API key 'nope'" in missing.output
    assert run_cli(app, "create", "--name", " ").exit_code != 0


def test_flask_command_line_runs_the_key_commands(tmp_path):
    env = {**os.environ, "PIXTOOLS_DATA_DIR": str(tmp_path), "PIXTOOLS_SECRET_KEY": "x",
           "PYTHONPATH": str(REPO)}
    env.pop("PIXTOOLS_MODE", None)

    def flask(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    flask("db", "upgrade")
    out = flask("pixtools", "apikey", "create", "--name", "from the shell")
    assert out.splitlines()[1].startswith("pxt_")
    assert "from the shell" in flask("pixtools", "apikey", "list")


def test_keys_are_required_in_server_mode_by_default(server_env, server_app):
    from pixtools import apikeys, create_app
    from pixtools.config import load_settings

    assert load_settings({**settings_from_env(server_env), "api_keys_required": None}
                         ).effective_api_keys_required is True
    app = create_app({**settings_from_env(server_env), "api_keys_required": None})
    client = app.test_client()
    refused = post(client)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.get_json()["error"] == "unauthorized"
    assert "requires an API key" in refused.get_json()["message"]
    assert client.get("/api/v1/operations").status_code == 401
    assert client.get("/api/health").status_code == 200  # probes need no key
    # Webhook senders reach the sandbox receiver by its unguessable id alone.
    assert client.post("/api/v1/hooks/sandbox/nope", data=b"{}").status_code == 404
    with app.app_context():
        secret = apikeys.create("ci").secret
    accepted = post(client, bearer(secret))
    assert accepted.status_code == 202
    # Both header forms work; a bad key is refused, never treated as anonymous.
    job_url = f"/api/v1/jobs/{accepted.get_json()['id']}"
    assert client.get(job_url, headers={"X-API-Key": secret}).status_code == 200
    assert client.get(job_url, headers=bearer(secret + "x")).status_code == 401
    # An anonymous browser's cookie is no credential for the API where keys are required.
    page, token = browser(app)
    cookie_only = post(page, token)
    assert cookie_only.status_code == 401 and "requires an API key" in cookie_only.get_json()[
        "message"]


def test_keys_are_optional_in_desktop_mode(desktop_config):
    from pixtools.config import load_settings

    assert load_settings(desktop_config).effective_api_keys_required is False


@pytest.mark.parametrize("maker", ["key 1", "browser 1", "anonymous"])
def test_nobody_else_can_read_or_delete_a_job(app, maker):
    from pixtools.storage import get_storage

    clients = owners(app)
    client, headers = clients[maker]
    created = post(client, headers).get_json()
    job_url = f"/api/v1/jobs/{created['id']}"
    assert client.get(job_url, headers=headers).status_code == 200
    for other, (other_client, other_headers) in clients.items():
        if other == maker:
            continue
        for method in ("get", "delete"):
            response = getattr(other_client, method)(job_url, headers=other_headers)
            assert response.status_code == 404, (maker, other, method)
            message = f"No job {created['id']!r}: check the id, or it may have expired."
            assert response.get_json() == {
                "type": "tag:pixtools,2026:problems/not_found", "title": "Not found",
                "status": 404, "detail": message, "instance": job_url,
                "error": "not_found", "message": message,
            }
    # Still there, files and all, for its owner.
    assert client.get(job_url, headers=headers).status_code == 200
    assert list(get_storage(app).keys(f"jobs/{created['id']}/"))
    assert client.delete(job_url, headers=headers).status_code == 204


def test_key_jobs_belong_to_the_key(app):
    from pixtools.db import db
    from pixtools.models import Job

    clients = owners(app)
    client, headers = clients["key 1"]
    job_id = post(client, headers).get_json()["id"]
    owner = db.session.get(Job, job_id).owner
    assert owner.startswith("key:") and len(owner) == len("key:") + 16


def test_downloads_need_the_signed_link_that_only_the_owner_can_get(app, client):
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks.pipeline import run_steps

    clients = owners(app)
    owner, headers = clients["key 1"]
    job_id = post(owner, headers).get_json()["id"]
    run_steps(db.session.get(Job, job_id).outputs[0].steps[0].id)
    db.session.expire_all()
    url = owner.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()["outputs"][0]["url"]
    assert owner.get(url).status_code == 200
    # Others cannot learn the link, and cannot make one for this job's files.
    other, other_headers = clients["key 2"]
    assert other.get(f"/api/v1/jobs/{job_id}", headers=other_headers).status_code == 404
    forged = url.split("?")[0] + "?expires=9999999999&name=x.png&sig=" + "0" * 64
    assert other.get(forged).status_code == 403
