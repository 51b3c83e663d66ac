"""The API's contract, served: ``/api/v1/openapi.json`` and its reference page
``/api/v1/docs`` (Swagger UI from ``static/vendor``, under the site's strict CSP)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from . import openapi

bp = Blueprint("api_reference", __name__, url_prefix="/api/v1")

# What the reference page loads from static/vendor (package.json's "vendor" map).
REFERENCE_ASSETS = ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css")


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    response = jsonify(openapi.document(current_app.extensions["pixtools.settings"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    return render_template("api/docs.html")
