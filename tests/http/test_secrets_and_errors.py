"""Secrets and defaults: server mode refuses weak secret keys, desktop keeps its folder and
key private, download names cannot break their header, and storage or database trouble
reaches users as a generic message (503 with Retry-After at submission)."""

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from pixtools import db
from pixtools.models import Job
from tests.support.environment import settings_from_env
from tests.support.webhooks import run_job, submit


@pytest.mark.parametrize(("key", "words"), [
    ("x", "at least 32 bytes"),
    ("compose-trial-secret-change-me", "published example"),
    ("REPLACE_ME", "published example"),
])
def test_server_mode_refuses_a_weak_secret_key(server_env, key, words):
    from pixtools.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=f"PIXTOOLS_SECRET_KEY.*{words}"):
        load_settings({**settings_from_env(server_env), "secret_key": key})


def test_desktop_keeps_its_folder_and_key_private(tmp_path):
    from pixtools import create_app

    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    create_app({"mode": "desktop", "data_dir": folder})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    key = folder / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text()) >= 32
    assert not list(folder.glob(".secret_key.*"))  # no temporary file left behind
    again = create_app({"mode": "desktop", "data_dir": folder})
    assert again.config["SECRET_KEY"] == key.read_text().strip()  # kept, not replaced


@pytest.mark.parametrize("name", ['evil".html', "crème\r\nX-Injected: 1", "a\\b;c=d"])
def test_download_names_cannot_break_their_header(name):
    from pixtools.storage.base import content_disposition

    header = content_disposition(name)
    quoted = header.split('filename="', 1)[1].split('"', 1)[0]
    assert all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in quoted)
    assert "\r" not in header and "\n" not in header
    assert header.count('"') == 2


def test_s3_links_carry_an_escaped_name(server_app):
    from pixtools.storage import get_storage

    url = get_storage(server_app).signed_url("jobs/x/source", expires_in=60,
                                             filename='a"b\r\nc.png', content_type="image/png")
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="a_b__c.png"; filename*=UTF-8\'\'')


def test_storage_down_at_submission_is_a_503_that_names_nothing(server_env, server_app):
    from pixtools import create_app

    app = create_app({**settings_from_env(server_env),
                      "storage_url": "s3://no-such-bucket-here/images"})
    reply = submit(app.test_client(), None)
    assert reply.status_code == 503 and int(reply.headers["Retry-After"]) >= 1
    message = reply.get_json()["message"]
    assert "no-such-bucket" not in message and "try again" in message


def test_storage_trouble_in_a_worker_is_generic_for_the_user(app, client):
    from pixtools.storage import get_storage

    job_id = submit(client, None).get_json()["id"]
    source = db.db.session.get(Job, job_id).source_key
    get_storage(app).delete_prefix(source)  # the source is gone: a storage failure
    run_job(job_id)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "failed" and "storage problem on the server" in job["error"]
    assert str(app.extensions["pixtools.settings"].data_dir) not in job["error"]
