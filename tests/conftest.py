"""Shared fixtures: real PostgreSQL, Redis, moto's S3 server and consumer subprocesses.

Each test session gets its own PostgreSQL database and its own Redis queue prefix, so
several runs can share the machine's services without seeing each other's data.
Under CI (``CI=true``) a missing service fails the tests instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.contract import watch
from tests.support.environment import (
    PG_ADMIN_URL,
    REDIS_URL,
    REPO,
    SHARED,
    free_port,
    service_missing,
    settings_from_env,
)
from tests.support.processes import PrivateRedis, Process
from tests.support.webhooks import Receiver

# --- shared data (read from ../shared, never copied into the repository) -------------------


@pytest.fixture(scope="session")
def weights_path() -> Path:
    """The pretrained DnCNN weights."""
    path = SHARED / "models" / "dncnn_color_blind.pth"
    if not path.is_file():
        service_missing(f"DnCNN weights at {path} (set PIXTOOLS_SHARED_DIR)")
    return path


def _shared_models(what: str, **names: str) -> dict[str, Path]:
    paths = {kind: SHARED / "models" / name for kind, name in names.items()}
    for path in paths.values():
        if not path.is_file():
            service_missing(f"{what} at {path} (set PIXTOOLS_SHARED_DIR)")
    return paths


@pytest.fixture(scope="session")
def ffdnet_weights() -> dict[str, Path]:
    """The FFDNet colour weights by kind (``ffdnet``, ``ffdnet_clip``)."""
    return _shared_models("FFDNet weights", ffdnet="ffdnet_color.pth",
                          ffdnet_clip="ffdnet_color_clip.pth")


@pytest.fixture(scope="session")
def matconvnet_models() -> dict[str, Path]:
    """The authors' MatConvNet FFDNet files the .pth weights were converted from."""
    return _shared_models("MatConvNet FFDNet file", ffdnet="FFDNet_color.mat",
                          ffdnet_clip="FFDNet_Clip_color.mat")


@pytest.fixture(scope="session")
def torch_available() -> None:
    """The ml extra: a Python without a torch wheel at hand runs the rest of the suite."""
    if importlib.util.find_spec("torch") is None:
        service_missing("torch (the ml extra: scripts/install-deps.sh PYTHON dev)")


@pytest.fixture(scope="session")
def cbsd68_paths() -> list[Path]:
    """The 68 CBSD68 evaluation images, in sorted order."""
    folder = SHARED / "testsets" / "CBSD68"
    paths = sorted(folder.glob("*.png"))
    if len(paths) != 68:
        service_missing(f"CBSD68 test set (68 PNG files) at {folder} (set PIXTOOLS_SHARED_DIR)")
    return paths


# --- services ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    import psycopg2

    name = f"pixtools_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError:
        service_missing(f"PostgreSQL at {PG_ADMIN_URL}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """moto's S3 server over real HTTP on loopback, used through boto3 as AWS would be."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    yield {"endpoint_url": f"http://127.0.0.1:{port}", **env}
    server.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_server: dict[str, str]) -> str:
    import boto3

    bucket = f"pixtools-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=s3_server["endpoint_url"]).create_bucket(Bucket=bucket)
    return bucket


# --- apps -------------------------------------------------------------------------------


@pytest.fixture
def desktop_config(tmp_path: Path) -> dict[str, Any]:
    return {"mode": "desktop", "data_dir": tmp_path / "data", "secret_key": "test-secret"}


def fresh_reads_per_request(application: Any) -> None:
    """Test-client requests share the fixture's app context, hence its database session (in
    production each request gets its own): expire what earlier requests loaded, so that a
    request reads the database instead of objects cached earlier in the test."""
    from pixtools.db import db

    application.before_request(lambda: db.session.expire_all())


@pytest.fixture
def app(desktop_config: dict[str, Any]) -> Iterator[Any]:
    """A desktop-mode app on a fresh, migrated SQLite database (no consumers running)."""
    from pixtools import create_app, db

    application = create_app(desktop_config)
    db.upgrade(application)
    fresh_reads_per_request(application)
    drifts = watch(application)  # every API answer is held to the OpenAPI document
    with application.app_context():
        yield application
        db.db.session.remove()
        db.db.engine.dispose()
    assert drifts == [], "answers that drift from the OpenAPI document"


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def server_env(
    postgres_url: str, redis_url: str, s3_server: dict[str, str], s3_bucket: str
) -> dict[str, str]:
    """Environment for server mode on the real services, with a private queue prefix."""
    return {
        "PIXTOOLS_MODE": "server",
        "PIXTOOLS_DATABASE_URL": postgres_url,
        "PIXTOOLS_REDIS_URL": redis_url,
        "PIXTOOLS_STORAGE_URL": f"s3://{s3_bucket}/images",
        "PIXTOOLS_S3_ENDPOINT_URL": s3_server["endpoint_url"],
        "PIXTOOLS_SECRET_KEY": f"server-test-{secrets.token_urlsafe(32)}",
        "PIXTOOLS_QUEUE_PREFIX": f"pt_{secrets.token_hex(4)}",
        # Server mode requires API keys by default; most tests call the API anonymously,
        # and the API key tests turn the requirement back on.
        "PIXTOOLS_API_KEYS_REQUIRED": "false",
        # Server mode asks browsers to sign in by default; the access tests turn it on.
        "PIXTOOLS_WEB_ACCESS": "open",
        "PIXTOOLS_HEALTH_TOKEN": "health-test-token",
        **{k: v for k, v in s3_server.items() if k.startswith("AWS_")},
    }


@pytest.fixture
def server_app(server_env: dict[str, str]) -> Iterator[Any]:
    """A server-mode app on PostgreSQL (freshly migrated), Redis and moto's S3."""
    from pixtools import create_app, db

    application = create_app(settings_from_env(server_env))
    with application.app_context():
        db.db.drop_all()
        db.db.session.execute(db.db.text("DROP TABLE IF EXISTS alembic_version"))
        db.db.session.commit()
    db.upgrade(application)
    fresh_reads_per_request(application)
    drifts = watch(application)
    with application.app_context():
        yield application
        db.db.session.remove()
        db.db.engine.dispose()
    assert drifts == [], "answers that drift from the OpenAPI document"


# --- browser ----------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VENDOR = REPO / "pixtools" / "static" / "vendor" / "htmx.min.js"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Debian Chromium for the whole session, driven by Playwright (never downloaded)."""
    if not CHROMIUM.exists():
        service_missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not VENDOR.is_file():
        pytest.fail(f"{VENDOR} is missing: it is committed (`make assets` refreshes it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- processes --------------------------------------------------------------------------


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Process:
        process = Process(list(args), env or {}, tmp_path / f"proc-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def consumers(server_env: dict[str, str], server_app: Any,
              spawn: Callable[..., Process]) -> list[Process]:
    """Real ``pixtools worker`` processes for the three queues, on the server-mode services."""
    return [spawn("worker", queue, env=server_env) for queue in ("standard", "ml", "webhooks")]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """Not started yet: the test calls ``start()`` (and ``kill()``) when it needs to."""
    import shutil

    if shutil.which("redis-server") is None:
        service_missing("redis-server (the program)")
    server = PrivateRedis(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on loopback (an HTTP server in a thread)."""
    server = Receiver()
    yield server
    server.stop()
