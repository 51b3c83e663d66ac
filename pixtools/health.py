"""Health checks: ``/api/health`` is liveness (cheap, no dependencies)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__, url_prefix="/api/health")


@bp.get("")
def live() -> ResponseReturnValue:
    return jsonify(status="ok")
