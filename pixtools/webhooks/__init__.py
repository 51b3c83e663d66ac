"""Webhooks: a signed ``job.succeeded``/``job.failed`` event to the job's URL, retried with
backoff, behind a circuit breaker per host, only ever to addresses that pass the SSRF check;
and a sandbox receiver on this instance to watch them arrive.

``breaker.states()`` reports the breaker of every destination host (health and metrics).
"""

from __future__ import annotations

from flask import Flask

from ..identity import current_owner
from . import breaker


def init_app(app: Flask) -> None:
    # views imports the models, which registers the webhook tables with the app's db.
    from . import sandbox, views

    breaker.init_app(app)
    app.register_blueprint(views.api_bp)
    app.register_blueprint(views.pages_bp)

    @app.context_processor
    def _sandbox_helpers() -> dict[str, object]:
        # Lazy: only a template that offers "send to my sandbox" runs the query.
        return {"my_sandbox": lambda: sandbox.latest_for(current_owner())}
