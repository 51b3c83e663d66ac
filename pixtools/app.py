"""The app factory: settings, then a short list of ``init_app`` calls."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import admin, api, db, events, hotcache, logs, metrics, queues, storage, tasks, web, webhooks
from .config import Settings, load_settings
from .http import access, errors, identity, ratelimit, security, uploads


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    # Desktop mode: one random key kept in the data folder, so signed cookies and
    # download links survive restarts without anyone having to configure a secret.
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings from ``PIXTOOLS_*`` variables."""
    settings = load_settings(config)
    app = Flask(__name__)
    app.extensions["pixtools.settings"] = settings
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
