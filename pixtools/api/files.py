"""Signed, expiring downloads of stored results in desktop mode (``/files/<key>``)."""

from __future__ import annotations

from flask import Blueprint, current_app, request, send_file
from flask.typing import ResponseReturnValue

from .. import jobs
from ..errors import Forbidden, NotFound
from ..imaging import CONTENT_TYPE_BY_EXTENSION
from ..storage import LocalStorage, get_storage, signing

bp = Blueprint("downloads", __name__)


@bp.get("/files/<path:key>")
def download(key: str) -> ResponseReturnValue:
    storage = get_storage(current_app)
    if not isinstance(storage, LocalStorage):
        raise NotFound("Downloads are served by the object store in this mode.")
    try:
        expires = int(request.args.get("expires", ""))
    except ValueError:
        raise Forbidden("This download link is incomplete: copy the whole link.") from None
    name = request.args.get("name", "")
    problem = signing.verify(
        current_app.config["SECRET_KEY"], key, expires, name, request.args.get("sig", "")
    )
    if problem:
        raise Forbidden(problem)
    jobs.refuse_expired_key(key)  # 410 from the job's expiry on, before cleanup has run
    path = storage.path(key)
    if not path.is_file():
        raise NotFound("This file no longer exists: the job may have expired.")
    mimetype = CONTENT_TYPE_BY_EXTENSION.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    response = send_file(
        path, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
