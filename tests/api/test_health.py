"""Liveness and readiness, with each dependency broken in turn on the real services."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import REPO, SHARED, free_port, settings_from_env

WEIGHTS = SHARED / "models" / "dncnn_color_blind.pth"
CHECKS = {"database", "redis", "storage", "queues", "weights", "webhooks"}


@pytest.fixture
def desktop_config(tmp_path: Path) -> dict[str, Any]:
    # The default app fixture, with the real DnCNN weights configured.
    return {"mode": "desktop", "data_dir": tmp_path / "data", "secret_key": "test-secret",
            "dncnn_weights": WEIGHTS}


def server_app_with(server_env: dict[str, str], **overrides: Any) -> Any:
    from pixtools import create_app

    return create_app({**settings_from_env(server_env), "dncnn_weights": WEIGHTS,
                       "ready_timeout_seconds": 3, **overrides})


def ready(app: Any) -> tuple[int, dict[str, Any]]:
    """The operator's view: with the health token where server mode asks for one."""
    token = app.extensions["pixtools.settings"].health_token
    response = app.test_client().get("/api/health/ready",
                                      headers={"Authorization": f"Bearer {token}"})
    body = response.get_json()
    assert set(body["checks"]) == CHECKS
    for result in body["checks"].values():
        assert result["status"] in ("ok", "fail", "skipped")
        assert "latency_ms" in result
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, body


def test_the_settings_know_every_check():
    from pixtools.api.health import CHECKS as RUN
    from pixtools.config import READY_CHECKS

    assert tuple(RUN) == READY_CHECKS and set(READY_CHECKS) == CHECKS


def test_checks_can_be_skipped_where_a_dependency_lives_elsewhere(tmp_path):
    from pixtools import create_app, db
    from pixtools.config import ConfigError

    # The api pods of a cluster do not hold the DnCNN weights: the ml workers do.
    application = create_app({"data_dir": tmp_path, "secret_key": "s",
                              "dncnn_weights": tmp_path / "absent.pth",
                              "ready_skip_checks": " weights , webhooks"})
    db.upgrade(application)
    status, body = ready(application)
    assert status == 200, body
    assert body["checks"]["weights"]["status"] == "skipped"
    assert "PIXTOOLS_READY_SKIP_CHECKS" in body["checks"]["weights"]["reason"]
    with pytest.raises(ConfigError, match=r"PIXTOOLS_READY_SKIP_CHECKS: .*unknown check 'wieghts'"):
        create_app({"data_dir": tmp_path, "ready_skip_checks": "wieghts"})


def test_liveness_is_cheap_and_always_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_desktop_ready_with_every_check_reported(app):
    status, body = ready(app)
    assert status == 200, body
    assert body["status"] == "ready" and body["failing"] == []
    checks = body["checks"]
    assert checks["database"]["status"] == "ok" and checks["database"]["revision"]
    assert checks["redis"] == {**checks["redis"], "status": "skipped"}
    assert checks["storage"]["status"] == "ok"
    assert checks["queues"]["depth"] == {"standard": 0, "ml": 0, "webhooks": 0}
    assert checks["weights"]["status"] == "ok"
    # FFDNet's weights are reported, never failing: denoise falls back to DnCNN without them.
    assert set(checks["weights"]["ffdnet"]) == {"ffdnet", "ffdnet_clip"}
    # Webhooks are reported when that module is installed, skipped otherwise.
    assert checks["webhooks"]["status"] in ("ok", "skipped")


def test_queue_backlog_is_reported_per_queue(app):
    from pixtools.queues import get_queues

    get_queues(app).task("ml", "run_steps")(12345)
    get_queues(app).task("ml", "run_steps")(12346)
    _status, body = ready(app)
    assert body["checks"]["queues"]["depth"] == {"standard": 0, "ml": 2, "webhooks": 0}


def test_missing_weights_make_it_unready(app, tmp_path):
    from pixtools import create_app, db

    missing = create_app({"data_dir": tmp_path / "data", "secret_key": "s",
                          "dncnn_weights": tmp_path / "nowhere.pth"})
    db.upgrade(missing)
    status, body = ready(missing)
    assert status == 503
    assert body["status"] == "unready" and body["failing"] == ["weights"]
    assert "not found" in body["checks"]["weights"]["error"]


def test_missing_ffdnet_weights_are_reported_but_leave_it_ready(tmp_path):
    from pixtools import create_app, db

    application = create_app({"data_dir": tmp_path / "data", "secret_key": "s",
                              "dncnn_weights": WEIGHTS,
                              "ffdnet_weights": SHARED / "models" / "ffdnet_color.pth",
                              "ffdnet_clip_weights": tmp_path / "absent.pth"})
    db.upgrade(application)
    status, body = ready(application)
    assert status == 200 and body["failing"] == []
    report = body["checks"]["weights"]["ffdnet"]
    assert report["ffdnet"] == "ok"
    assert report["ffdnet_clip"].startswith("FFDNet-clip weights not found at")
    assert "falls back to DnCNN" in report["ffdnet_clip"]


def test_corrupt_weights_make_it_unready(tmp_path):
    from pixtools import create_app, db

    corrupt = tmp_path / "dncnn.pth"
    corrupt.write_bytes(WEIGHTS.read_bytes()[:-10] + b"0123456789")
    application = create_app({"data_dir": tmp_path / "data", "secret_key": "s",
                              "dncnn_weights": corrupt})
    db.upgrade(application)
    status, body = ready(application)
    assert status == 503 and body["failing"] == ["weights"]
    assert "sha256" in body["checks"]["weights"]["error"]
    # Replaced by the right file (new size/mtime): checked again, and ready.
    corrupt.write_bytes(WEIGHTS.read_bytes())
    assert ready(application)[0] == 200


def test_unmigrated_database_says_how_to_fix_it(tmp_path):
    from pixtools import create_app

    application = create_app({"data_dir": tmp_path, "secret_key": "s", "dncnn_weights": WEIGHTS})
    status, body = ready(application)
    assert status == 503 and body["failing"] == ["database"]
    assert "flask db upgrade" in body["checks"]["database"]["error"]


def test_readiness_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from pixtools import create_app, db\n"
        f"app = create_app({{'data_dir': {str(tmp_path)!r}, 'secret_key': 's',"
        f" 'dncnn_weights': {str(WEIGHTS)!r}}})\n"
        "db.upgrade(app)\n"
        "reply = app.test_client().get('/api/health/ready')\n"
        "assert reply.status_code == 200, reply.get_json()\n"
        "assert 'torch' not in sys.modules, 'readiness imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# --- server mode: every dependency real, then each one broken ----------------------------


def test_a_database_at_or_ahead_of_this_version_is_ready_and_behind_is_not(server_app,
                                                                            server_env):
    """A rollout: the new release migrates, the old pods stay ready on the newer schema (and
    a rolled-back version becomes ready); a version whose migrations are not applied is not."""
    from alembic.script import ScriptDirectory

    from pixtools.db import MIGRATIONS_DIR, db

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    (head,) = script.get_heads()
    older = script.get_revision(head).down_revision
    application = server_app_with(server_env, ready_skip_checks="weights")

    def at(revision: str) -> tuple[int, dict[str, Any]]:
        with server_app.app_context():
            db.session.execute(db.text("UPDATE alembic_version SET version_num = :r"),
                               {"r": revision})
            db.session.commit()
        return ready(application)

    status, body = at(head)
    assert status == 200 and body["checks"]["database"]["schema"] == "current", body
    status, body = at("0099_from_a_newer_release")
    assert status == 200, body
    assert body["checks"]["database"] | {"latency_ms": 0} == {
        "status": "ok", "revision": "0099_from_a_newer_release", "schema": "ahead",
        "latency_ms": 0}
    status, body = at(older)
    assert status == 503 and body["failing"] == ["database"], body
    assert f"at revision {older!r}, behind" in body["checks"]["database"]["error"]
    assert "pixtools db upgrade" in body["checks"]["database"]["error"]
    at(head)



def test_server_ready_on_real_services(server_app, server_env):
    from pixtools import db

    application = server_app_with(server_env)
    db.upgrade(application)
    status, body = ready(application)
    assert status == 200, body
    assert {name for name, r in body["checks"].items() if r["status"] == "ok"} >= {
        "database", "redis", "storage", "queues", "weights",
    }


def test_postgres_unreachable(server_app, server_env):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/pixtools"
    status, body = ready(server_app_with(server_env, database_url=url))
    assert status == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["error"]


def test_redis_unreachable(server_app, server_env):
    status, body = ready(server_app_with(server_env,
                                         redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    assert status == 503
    # The queues and the webhook breakers' states live in Redis too; nothing else fails.
    assert "redis" in body["failing"]
    assert set(body["failing"]) <= {"redis", "queues", "webhooks"}
    assert body["checks"]["storage"]["status"] == "ok"


def test_s3_endpoint_down(server_app, server_env):
    status, body = ready(server_app_with(server_env,
                                         s3_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    assert status == 503
    assert body["failing"] == ["storage"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung dependency."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_a_hung_dependency_cannot_hang_readiness(server_app, server_env, silent_server):
    application = server_app_with(server_env, redis_url=silent_server, ready_timeout_seconds=0.5)
    status, body = ready(application)
    assert status == 503
    assert "queues" in body["failing"] and "redis" in body["failing"]
    assert "no answer within 0.5 s" in body["checks"]["queues"]["error"]
    # Probing again does not start another thread on the hung socket.
    _status, again = ready(application)
    assert "has not returned yet" in again["checks"]["queues"]["error"]


def test_a_hung_redis_cannot_hang_a_metrics_scrape_or_an_upload(server_app, server_env,
                                                                silent_server):
    import io
    import json
    import threading

    from pixtools.db import db
    from pixtools.models import Step
    from pixtools.queues import QUEUE_NAMES, get_queues
    from tests.support.images import make_image

    application = server_app_with(server_env, redis_url=silent_server, metrics_port=9100)
    answers: dict[str, Any] = {}
    asked: list[str] = []
    for name in QUEUE_NAMES:
        queue = get_queues(application).by_name(name)
        ask = queue.pending_count
        queue.pending_count = lambda ask=ask, name=name: asked.append(name) or ask()

    def scrape_then_upload() -> None:
        client = application.test_client()
        # Served on the metrics port alone (gunicorn binds it beside the public one).
        answers["metrics"] = client.get("/metrics", environ_overrides={"SERVER_PORT": "9100"})
        answers["upload"] = client.post(
            "/api/v1/jobs",
            data={"file": (io.BytesIO(make_image((40, 30))), "cat.jpg"),
                  "recipe": json.dumps({"outputs": [{"steps": [
                      {"op": "convert", "format": "png"}]}]})},
            content_type="multipart/form-data",
        )

    worker = threading.Thread(target=scrape_then_upload, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "a call on the silent Redis never returned"
    metrics = answers["metrics"]
    assert metrics.status_code == 200
    text = metrics.get_data(as_text=True)
    assert 'pixtools_queue_depth{queue="standard"} NaN' in text
    assert 'pixtools_queue_depth{queue="ml"} NaN' in text
    # The queues share one Redis: after the first timed out, the scrape asked no more.
    assert asked[0] == "standard" and asked.count("ml") == 0
    # The upload is accepted and kept; its step waits for the sweeper to enqueue it.
    upload = answers["upload"]
    assert upload.status_code == 202, upload.get_json()
    with application.app_context():
        steps = db.session.scalars(
            db.select(Step).where(Step.output.has(job_id=upload.get_json()["id"]))
        ).all()
        assert [(step.status, step.enqueued_at) for step in steps] == [("queued", None)]


def test_public_readiness_says_ready_or_not_and_nothing_more(server_app, server_env):
    application = server_app_with(server_env, ready_skip_checks="weights")
    client = application.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        reply = client.get("/api/health/ready", headers=headers)
        assert reply.status_code == 200 and reply.get_json() == {"status": "ready"}
    assert "checks" in ready(application)[1]  # the bearer of the token sees the details


def test_the_s3_round_trip_is_made_at_most_every_30_seconds(server_app):
    from pixtools.storage import get_storage

    storage = get_storage(server_app)
    writes = []
    original = storage.put
    storage.put = lambda *args, **kwargs: (writes.append(args[0]), original(*args, **kwargs))
    for _ in range(5):
        storage.check()
    assert len(writes) <= 1
