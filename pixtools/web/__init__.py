"""The page people use: upload, live progress cards, results and their own history
(``views``), the recipe form built from the operation registry (``forms``, ``controls``),
cards made from the job's public representation (``cards``), and the webhook sandbox
pages (``sandbox``)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from ..http.identity import current_owner
from ..webhooks import sandbox as sandboxes
from . import sandbox, views

log = logging.getLogger(__name__)

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "htmx.min.js"


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    app.register_blueprint(sandbox.bp)

    @app.context_processor
    def _sandbox_helpers() -> dict[str, object]:
        # Lazy: only a template that offers "send to my sandbox" runs the query.
        return {"my_sandbox": lambda: sandboxes.latest_for(current_owner())}

    if not VENDOR.is_file():
        log.warning("htmx is missing from %s: run `make setup` (the page needs it)", VENDOR)
