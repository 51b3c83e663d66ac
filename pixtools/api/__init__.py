"""The JSON API: jobs and operations (``jobs``, listed a page at a time with ``pages``),
webhook sandboxes and delivery logs (``sandboxes``), liveness and readiness (``health``),
desktop mode's signed downloads (``files``), and its contract: the OpenAPI document and its
reference page (``reference``, ``openapi``, ``models``). Errors answer as RFC 9457 problem
details (``http.errors``)."""

from __future__ import annotations

from flask import Flask

from ..http import assets
from . import files, health, jobs, reference, sandboxes

REFERENCE_ASSETS = reference.REFERENCE_ASSETS


def init_app(app: Flask) -> None:
    assets.require(REFERENCE_ASSETS, "The API reference page")
    app.register_blueprint(reference.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(sandboxes.api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(files.bp)
