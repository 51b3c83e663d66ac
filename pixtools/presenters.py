"""Jobs as the API shows them (and the page reuses): JSON-ready dicts with signed URLs."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath
from typing import Any
from urllib.parse import urljoin

from flask import current_app, request

from . import hotcache
from .imaging import CONTENT_TYPES, EXTENSIONS
from .models import FAILED, SUCCEEDED, Job, Output, utcnow
from .recipe import options_of
from .storage import get_storage


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def safe_stem(job: Job, fallback: str = "image") -> str:
    """The upload's name without extension, safe in any header and on any disk: ASCII
    letters, digits, ``-`` and ``_`` only (accents are dropped, anything else becomes
    ``_``), never a path."""
    stem = PurePath(job.source_name.replace("\\", "/")).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9-]+", "_", ascii_stem).strip("_")
    return safe[:80] or fallback


def download_name(job: Job, output: Output) -> str:
    return f"{safe_stem(job)}-{output.position + 1}.{EXTENSIONS[output.format or 'png']}"


def saving_percent(source_bytes: int, output_bytes: int) -> float:
    """How much smaller the output is than the upload, in percent (negative: larger)."""
    if source_bytes <= 0:
        return 0.0
    return round((source_bytes - output_bytes) * 100 / source_bytes, 1)


def output_url(job: Job, output: Output) -> str | None:
    if output.status != SUCCEEDED or not output.result_key or not output.format:
        return None
    settings = current_app.extensions["pixtools.settings"]
    url = get_storage(current_app).signed_url(
        output.result_key,
        expires_in=settings.signed_url_ttl_seconds,
        filename=download_name(job, output),
        content_type=CONTENT_TYPES[output.format],
    )
    return urljoin(request.host_url, url)


def output_json(job: Job, output: Output) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": output.status,
        "error": output.error,
        "steps": [
            {
                "op": step.op,
                "params": step.params,
                "status": step.status,
                "progress": step.progress,
                "error": step.error,
            }
            for step in output.steps
        ],
    }
    if output.status == SUCCEEDED:
        body.update(
            format=output.format,
            width=output.width,
            height=output.height,
            bytes=output.bytes,
            saving_percent=saving_percent(job.source_bytes, output.bytes or 0),
            url=output_url(job, output),
        )
        if output.details:
            body["details"] = output.details
    return body


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "error": job.error,
        "options": options_of(job.options).model_dump(),
        "source": {
            "name": job.source_name,
            "format": job.source_format,
            "width": job.source_width,
            "height": job.source_height,
            "bytes": job.source_bytes,
        },
        "outputs": [output_json(job, output) for output in job.outputs],
    }


# --- finished jobs' answers, kept briefly (see ``hotcache``) ------------------------------


def cached_finished(job_id: str, owner: str) -> bytes | None:
    """The stored JSON answer for ``owner``'s finished job, or None (not kept, or not theirs:
    the database then answers, with a 404 for someone else's job)."""
    raw = hotcache.get_cache().get("job", job_id, variant=request.host_url)
    if raw is None:
        return None
    cached_owner, _, body = raw.partition(b"\n")
    return body if cached_owner == owner.encode() else None


def remember_finished(job: Job, body: bytes) -> None:
    """Keep a finished job's answer, while its links stay valid for long enough."""
    if job.status not in (SUCCEEDED, FAILED):
        return
    settings = current_app.extensions["pixtools.settings"]
    # A kept answer is served for at most this long: its links have 3/4 of their life left.
    ttl = min(settings.signed_url_ttl_seconds / 4, (job.expires_at - utcnow()).total_seconds())
    if ttl >= 1:
        hotcache.get_cache().put("job", job.id, job.owner.encode() + b"\n" + body,
                                 variant=request.host_url, ttl=ttl)
