"""PixTools: a self-hostable image-processing service."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .config import Settings, load_settings


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

    from . import (
        api,
        commands,
        db,
        downloads,
        errors,
        events,
        health,
        hotcache,
        identity,
        limits,
        logs,
        metrics,
        queues,
        security,
        storage,
        uploads,
        web,
        webhooks,
    )

    db.init_app(app)
    storage.init_app(app)
    queues.init_app(app)
    events.init_app(app)
    hotcache.init_app(app)
    logs.init_app(app)  # first: every request gets its id, whatever refuses it later
    metrics.init_app(app)
    uploads.init_app(app)  # bounds request bodies before anything reads a form
    commands.init_app(app)
    identity.init_app(app)
    security.init_app(app)  # after identity: CSRF applies to cookie-identified requests
    limits.init_app(app)  # after identity: rate limits count per API key where there is one
    errors.init_app(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(downloads.bp)
    webhooks.init_app(app)
    return app
