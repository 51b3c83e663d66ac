"""The one public representation of a job: what the API answers, the page's cards show,
webhook events carry and the operator's CLI prints.

``view(job, links)`` reads the rows once into a ``JobView``; its ``to_json``, ``to_event``
and ``to_record`` are the three shapes it is shown in. Download links are signed by
``Links``, against a base URL the caller names: the address a request came in on, or the
instance's configured ``PIXTOOLS_PUBLIC_URL`` — never a made-up request.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urljoin

from flask import current_app

from .. import clock
from ..imaging import CONTENT_TYPES, EXTENSIONS
from ..models import Job, Output, Step, utcnow
from ..models.state import EXPIRED, SUCCEEDED, status_at
from ..recipe import options_of
from ..storage import Storage, get_storage


@dataclass(frozen=True)
class Links:
    """Signs download links that expire after ``ttl`` seconds, absolute against ``base_url``."""

    storage: Storage
    ttl: int
    base_url: str

    def download(self, key: str, filename: str, fmt: str,
                 not_after: datetime | None = None) -> str | None:
        """A signed link, never valid past ``not_after`` (the job's expiry); None when that
        is less than a second away."""
        ttl = self.ttl
        if not_after is not None:
            ttl = min(ttl, int((not_after - clock.now()).total_seconds()))
            if ttl < 1:
                return None
        url = self.storage.signed_url(key, expires_in=ttl, filename=filename,
                                      content_type=CONTENT_TYPES[fmt])
        return urljoin(self.base_url, url)


def links(base_url: str) -> Links:
    """Links of the current app, absolute against ``base_url`` (else the public URL)."""
    settings = current_app.extensions["pixtools.settings"]
    base = base_url or settings.public_url or "http://localhost"
    return Links(get_storage(current_app), settings.signed_url_ttl_seconds, base)


def safe_stem(job: Job, fallback: str = "image") -> str:
    """The upload's name without extension, safe in any header and on any disk: ASCII
    letters, digits, ``-`` and ``_`` only (accents are dropped, anything else becomes
    ``_``), never a path."""
    return safe_name_stem(job.source_name, fallback)


def safe_name_stem(name: str, fallback: str = "image") -> str:
    """``safe_stem`` of any file name (an upload's, as the page shows it)."""
    stem = PurePath(name.replace("\\", "/")).stem
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class StepView:
    op: str
    params: dict[str, Any]
    queue: str
    status: str
    progress: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "params": self.params, "status": self.status,
                "progress": self.progress, "error": self.error}


@dataclass(frozen=True)
class OutputView:
    position: int
    status: str
    error: str | None
    steps: list[StepView]
    format: str | None
    width: int | None
    height: int | None
    bytes: int | None
    saving_percent: float | None
    url: str | None  # a signed link, once finished and when links were asked for
    download_name: str
    details: dict[str, Any] | None
    result_key: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "error": self.error,
                                "steps": [step.to_json() for step in self.steps]}
        if self.succeeded:
            body.update(format=self.format, width=self.width, height=self.height,
                        bytes=self.bytes, saving_percent=self.saving_percent, url=self.url)
            if self.details:
                body["details"] = self.details
        return body


@dataclass(frozen=True)
class SourceView:
    key: str
    name: str
    format: str
    width: int
    height: int
    bytes: int


@dataclass(frozen=True)
class JobView:
    id: str
    status: str
    error: str | None
    owner: str
    request_id: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime
    options: dict[str, Any]
    source: SourceView
    outputs: list[OutputView]

    def to_json(self) -> dict[str, Any]:
        """The API's answer (``GET /api/v1/jobs/<id>``)."""
        source = self.source
        return {
            "id": self.id, "status": self.status, "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at), "expires_at": _iso(self.expires_at),
            "error": self.error, "options": self.options,
            "source": {"name": source.name, "format": source.format, "width": source.width,
                       "height": source.height, "bytes": source.bytes},
            "outputs": [output.to_json() for output in self.outputs],
        }

    def to_event(self, event: str) -> dict[str, Any]:
        """A webhook event's body: links to the results, never their bytes."""
        outputs = [{"position": o.position, "status": o.status, "format": o.format,
                    "width": o.width, "height": o.height, "bytes": o.bytes, "url": o.url,
                    "error": o.error} for o in self.outputs]
        return {
            "type": event,
            "timestamp": (self.finished_at or utcnow()).isoformat(),
            "data": {"job_id": self.id, "status": self.status, "error": self.error,
                     "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at),
                     "outputs": outputs},
        }

    def to_record(self) -> dict[str, Any]:
        """Everything an operator needs (``pixtools jobs show --json``): storage keys and
        owners, never signed links."""
        source = self.source
        return {
            "id": self.id, "status": self.status, "error": self.error, "owner": self.owner,
            "request_id": self.request_id, "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at), "expires_at": _iso(self.expires_at),
            "source": {"key": source.key, "name": source.name, "format": source.format,
                       "width": source.width, "height": source.height, "bytes": source.bytes},
            "outputs": [_output_record(output) for output in self.outputs],
        }


def _output_record(output: OutputView) -> dict[str, Any]:
    return {
        "position": output.position, "status": output.status, "error": output.error,
        "format": output.format, "width": output.width, "height": output.height,
        "bytes": output.bytes, "result_key": output.result_key,
        "steps": [{"op": s.op, "params": s.params, "queue": s.queue, "status": s.status,
                   "progress": s.progress, "error": s.error, "started_at": _iso(s.started_at),
                   "finished_at": _iso(s.finished_at)} for s in output.steps],
    }


def _step_view(step: Step) -> StepView:
    return StepView(op=step.op, params=step.params, queue=step.queue, status=step.status,
                    progress=step.progress, error=step.error, started_at=step.started_at,
                    finished_at=step.finished_at)


def _output_view(job: Job, output: Output, links: Links | None) -> OutputView:
    done = output.status == SUCCEEDED
    url = None
    if done and links is not None and output.result_key and output.format:
        url = links.download(output.result_key, download_name(job, output), output.format,
                             not_after=job.expires_at)
    return OutputView(
        position=output.position, status=output.status, error=output.error,
        steps=[_step_view(step) for step in output.steps], format=output.format,
        width=output.width, height=output.height, bytes=output.bytes,
        saving_percent=saving_percent(job.source_bytes, output.bytes or 0) if done else None,
        url=url, download_name=download_name(job, output) if output.format else "",
        details=output.details, result_key=output.result_key,
    )


def view(job: Job, links: Links | None = None) -> JobView:
    """The job as shown to anyone; ``links`` signs download links (None: no links).

    Past its expiry time a job is ``expired`` here, for every reader at once, and has no
    links, whether or not cleanup has run yet."""
    status = status_at(job.status, job.expires_at, clock.now())
    if status == EXPIRED:
        links = None
    return JobView(
        id=job.id, status=status, error=job.error, owner=job.owner,
        request_id=job.request_id, created_at=job.created_at, finished_at=job.finished_at,
        expires_at=job.expires_at, options=options_of(job.options).model_dump(),
        source=SourceView(key=job.source_key, name=job.source_name, format=job.source_format,
                          width=job.source_width, height=job.source_height,
                          bytes=job.source_bytes),
        outputs=[_output_view(job, output, links) for output in job.outputs],
    )


def event_body(job: Job, event: str) -> dict[str, Any]:
    """A webhook event for ``job``, its links signed afresh (so a late retry still carries
    working links) and absolute against the address the job was submitted to."""
    return view(job, links(job.webhook_base_url or "")).to_event(event)
