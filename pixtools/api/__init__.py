"""The JSON API: jobs and operations (``jobs``), webhook sandboxes and delivery logs
(``sandboxes``), liveness and readiness (``health``), and desktop mode's signed downloads
(``files``). Errors answer as JSON (``http.errors``)."""

from __future__ import annotations

from flask import Flask

from . import files, health, jobs, sandboxes


def init_app(app: Flask) -> None:
    app.register_blueprint(jobs.bp)
    app.register_blueprint(sandboxes.api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(files.bp)
