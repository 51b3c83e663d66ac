"""Health checks: ``/api/health`` is liveness, ``/api/health/ready`` readiness.

Liveness is cheap and touches nothing. Readiness checks every dependency — database (and
its migrations), Redis, storage round trip, queue backlog, DnCNN weights, webhook breakers —
each in its own thread, and answers within ``PIXTOOLS_READY_TIMEOUT_SECONDS`` whatever
hangs: a check still running then is reported as timed out, and is not started again while
it hangs, so repeated probes cannot pile up threads.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import logs
from ..db import MIGRATIONS_DIR, db
from ..ml import weights
from ..queues import QUEUE_NAMES, get_queues
from ..storage import get_storage
from ..webhooks import breaker

bp = Blueprint("health", __name__, url_prefix="/api/health")
log = logging.getLogger(__name__)


class CheckFailed(Exception):
    """A dependency is not usable; the message says why and what to do."""


class Skipped(Exception):
    """The check does not apply in this mode."""


@bp.get("")
def live() -> ResponseReturnValue:
    return jsonify(status="ok")


def may_see_details(app: Flask) -> bool:
    """The per-check details are the operator's: desktop mode (which answers on loopback
    only), or a request with ``PIXTOOLS_HEALTH_TOKEN`` as its bearer token. Anyone else
    (a load balancer, the internet) learns ready or not, nothing more."""
    settings = app.extensions["pixtools.settings"]
    if settings.mode == "desktop":
        return True
    token = settings.health_token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode())


@bp.get("/ready")
def ready() -> ResponseReturnValue:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = run_checks(app)
    failing = [name for name, result in checks.items() if result["status"] == "fail"]
    if failing:
        log.warning("not ready", extra={"failing": failing})
    status = "unready" if failing else "ready"
    if may_see_details(app):
        response = jsonify(status=status, failing=failing, checks=checks)
    else:
        response = jsonify(status=status)
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the checks -------------------------------------------------------------------------


def check_database(app: Flask) -> dict[str, Any]:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        try:
            revision = connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
        except SQLAlchemyError:
            raise CheckFailed("the database has no tables yet: run `flask db upgrade`") from None
    schema = schema_state(app, revision)
    if schema == "behind":
        raise CheckFailed(
            f"database schema is at revision {revision!r}, behind this version's "
            f"{sorted(migration_script(app).get_heads())}: run `pixtools db upgrade`"
        )
    return {"revision": revision, "schema": schema}


def migration_script(app: Flask) -> ScriptDirectory:
    script = app.extensions.get("pixtools.migration_script")
    if script is None:
        script = app.extensions["pixtools.migration_script"] = ScriptDirectory(
            str(MIGRATIONS_DIR))
    return script


def schema_state(app: Flask, revision: str | None) -> str:
    """``current`` at this version's head; ``ahead`` at a revision this version does not
    know (a newer release migrated it: during a rollout, or after a rollback, this version
    still runs on it); ``behind`` at an older one of its own, or with none at all."""
    script = migration_script(app)
    if revision in script.get_heads():
        return "current"
    known = {migration.revision for migration in script.walk_revisions()}
    return "behind" if revision is None or revision in known else "ahead"


def check_redis(app: Flask) -> dict[str, Any]:
    settings = app.extensions["pixtools.settings"]
    if settings.mode != "server":
        raise Skipped("desktop mode uses no Redis")
    timeout = settings.ready_timeout_seconds
    client = app.extensions.get("pixtools.health_redis")
    if client is None:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        app.extensions["pixtools.health_redis"] = client
    client.ping()
    return {}


def check_storage(app: Flask) -> dict[str, Any]:
    get_storage(app).check()
    return {}


def check_queues(app: Flask) -> dict[str, Any]:
    queues = get_queues(app)
    return {"depth": {name: queues.by_name(name).pending_count() for name in QUEUE_NAMES}}


def check_weights(app: Flask) -> dict[str, Any]:
    config = app.extensions["pixtools.settings"].denoise_config
    path = Path(config.weights)
    verify_weights(path)
    # FFDNet is optional: without it, denoise's model auto falls back to DnCNN.
    ffdnet: dict[str, str] = {}
    for kind, spec in (("ffdnet", weights.FFDNET), ("ffdnet_clip", weights.FFDNET_CLIP)):
        try:
            verify_weights(config.path(kind), spec)
            ffdnet[kind] = "ok"
        except CheckFailed as exc:
            ffdnet[kind] = f"{exc} (denoise falls back to DnCNN)"
    return {"path": str(path), "ffdnet": ffdnet}


def check_webhooks(app: Flask) -> dict[str, Any]:
    # An open breaker pauses deliveries to one receiver; PixTools itself is still ready.
    # Counts only: which hosts (and whose) is nobody's business but the operator's command.
    return {"breakers": breaker.counts(app)}


CHECKS: dict[str, Callable[[Flask], dict[str, Any]]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
    "queues": check_queues,
    "weights": check_weights,
    "webhooks": check_webhooks,
}


# --- DnCNN weights (hashed without torch) -----------------------------------------------------

_weights_cache: dict[tuple[str, str, int, int], str | None] = {}
_weights_lock = threading.Lock()


def _verify_file(path: Path, spec: weights.WeightsSpec) -> None:
    try:
        weights.verify(path, spec)
    except weights.WeightsError as exc:
        raise CheckFailed(str(exc)) from None


def verify_weights(path: Path, spec: weights.WeightsSpec = weights.DNCNN) -> None:
    """Raise ``CheckFailed`` unless ``path`` holds ``spec``'s weights (hashed once per version
    of the file, so frequent probes cost a ``stat``)."""
    try:
        stat = path.stat()
    except OSError:
        raise CheckFailed(
            f"{spec.label} weights not found at {path}: fetch them with `pixtools model fetch`"
            + (" or set PIXTOOLS_DNCNN_WEIGHTS" if spec is weights.DNCNN else "")
        ) from None
    key = (spec.label, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _weights_lock:
        if key in _weights_cache:
            problem = _weights_cache[key]
        else:
            try:
                _verify_file(path, spec)
                problem = None
            except CheckFailed as exc:
                problem = str(exc)
            _weights_cache[key] = problem
    if problem:
        raise CheckFailed(problem)


# --- running them, bounded in time ------------------------------------------------------

_inflight: dict[tuple[int, str], threading.Thread] = {}
_inflight_lock = threading.Lock()


def _run_one(app: Flask, check: Callable[[Flask], dict[str, Any]],
             results: dict[str, dict[str, Any]], name: str) -> None:
    started = time.perf_counter()
    try:
        with app.app_context():
            details = check(app)
        result: dict[str, Any] = {"status": "ok", **details}
    except Skipped as exc:
        result = {"status": "skipped", "reason": str(exc)}
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result = {"status": "fail", "error": logs.redact(message)[:500]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    results[name] = result


def run_checks(app: Flask) -> dict[str, dict[str, Any]]:
    """Every check's result by name, each with ``status`` (ok, fail, skipped) and latency."""
    settings = app.extensions["pixtools.settings"]
    timeout = settings.ready_timeout_seconds
    deadline = time.monotonic() + timeout
    skipped = set(filter(None, settings.ready_skip_checks.split(",")))
    results: dict[str, dict[str, Any]] = {}
    started: dict[str, threading.Thread] = {}
    for name, check in CHECKS.items():
        if name in skipped:
            results[name] = {"status": "skipped", "latency_ms": 0.0,
                             "reason": "listed in PIXTOOLS_READY_SKIP_CHECKS"}
            continue
        key = (id(app), name)
        with _inflight_lock:
            previous = _inflight.get(key)
            if previous is not None and previous.is_alive():
                results[name] = {
                    "status": "fail", "latency_ms": None,
                    "error": "the previous check has not returned yet (the dependency hangs)",
                }
                continue
            # Daemon threads: a check hung on a dead socket must not keep the process alive.
            thread = threading.Thread(
                target=_run_one, args=(app, check, results, name),
                name=f"ready-{name}", daemon=True,
            )
            _inflight[key] = thread
        thread.start()
        started[name] = thread
    for name, thread in started.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            results[name] = {
                "status": "fail", "latency_ms": round(timeout * 1000, 2),
                "error": f"no answer within {timeout:g} s",
            }
    return {name: results[name] for name in CHECKS}
