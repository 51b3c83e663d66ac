"""The page people use: upload, progress and results."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from . import operations

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html", operations=operations.REGISTRY.values())
