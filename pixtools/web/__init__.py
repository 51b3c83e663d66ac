"""The page people use: upload, live progress cards, results and their own history
(``views``), the recipe form built from the operation registry (``forms``, ``controls``),
cards made from the job's public representation (``cards``), and the webhook sandbox
pages (``sandbox``), and the login page of login mode (``login``)."""

from __future__ import annotations

from flask import Flask

from .. import presets
from ..http import assets
from ..http.identity import current_owner
from ..webhooks import sandbox as sandboxes
from . import batches, library, login, sandbox, views

# What the page loads from static/vendor (package.json's "vendor" map says where from).
PAGE_ASSETS = ("htmx.min.js", "fonts/space-grotesk-latin-wght-normal.woff2")


def init_app(app: Flask) -> None:
    assets.require(PAGE_ASSETS, "The page")
    app.register_blueprint(views.bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(sandbox.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(batches.bp)

    @app.context_processor
    def _page_helpers() -> dict[str, object]:
        # Lazy: only a template that offers "send to my sandbox" runs the query.
        return {"my_sandbox": lambda: sandboxes.latest_for(current_owner()),
                "preset_choices": lambda: presets.choices_for(current_owner())}

