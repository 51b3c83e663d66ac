"""The app factory: settings, then a short list of ``init_app`` calls."""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import admin, api, db, events, hotcache, logs, metrics, queues, storage, tasks, web, webhooks
from .config import Settings, load_settings
from .http import access, errors, identity, ratelimit, security, uploads


def private_data_dir(settings: Settings) -> None:
    """Desktop mode's data folder holds the database (webhook secrets included), the files
    and the secret key: only its owner may enter it (0700), whatever the umask."""
    folder = Path(settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)

# Allocations between collections of the youngest generation (Python's default: 700). A job's
# request or task makes tens of thousands of short-lived objects (rows, dicts, frames).
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """For a long-running process, once its app is built: what start-up made (modules, the
    app, settings, compiled statements) lives as long as the process, so the collector
    stops walking it (``gc.freeze``), and collects young objects ten times less often.
    Every full collection walked that whole heap, ~6 % of a web worker's CPU under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    # Desktop mode: one random key kept in the data folder, so signed cookies and
    # download links survive restarts without anyone having to configure a secret.
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        # Written whole to a private (0600) temporary file, then linked into place: no
        # moment where the key is readable by others, or half written, or written twice.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings from ``PIXTOOLS_*`` variables."""
    settings = load_settings(config)
    app = Flask(__name__)
    app.extensions["pixtools.settings"] = settings
    if settings.mode == "desktop":
        private_data_dir(settings)
    app.config["SECRET_KEY"] = _secret_key(settings)

    # Infrastructure first (each later part may use the earlier ones), then the features.
    db.init_app(app)
    storage.init_app(app)
    queues.init_app(app)
    events.init_app(app)
    hotcache.init_app(app)
    logs.init_app(app)  # first hooks: every request gets its id, whatever refuses it later
    metrics.init_app(app)
    webhooks.init_app(app)
    tasks.init_app(app)  # registers what the consumers run on the queues
    uploads.init_app(app)  # bounds request bodies before anything reads a form
    access.init_app(app)  # a foreign Host is refused before anyone is identified
    identity.init_app(app)
    security.init_app(app)  # after identity: CSRF applies to cookie-identified requests
    ratelimit.init_app(app)  # after identity: rate limits count per API key where there is one
    errors.init_app(app)
    web.init_app(app)
    api.init_app(app)
    admin.init_app(app)
    return app
