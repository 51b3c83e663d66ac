"""Jobs as the page shows them: one card per job, with everything its template needs.

Times are judged against ``clock.now()``, so a job past ``expires_at`` shows as expired
whether or not the cleanup command has removed its files yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urljoin

from flask import current_app, request, url_for

from . import clock, presenters
from .imaging import CONTENT_TYPES, EXTENSIONS
from .models import FINISHED, QUEUED, RUNNING, SUCCEEDED, Job, Output, Step
from .storage import get_storage

# "Download all" is served by the API; the card links to it by path.
BUNDLE_PATH = "/api/v1/jobs/{id}/bundle.zip"
# Outputs whose steps include one of these get a before/after comparison.
COMPARE_OPS = frozenset({"denoise"})


def human_bytes(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _params_text(params: dict[str, Any]) -> str:
    parts = []
    for name, value in params.items():
        if value is None or value is False:
            continue
        parts.append(name.replace("_", " ") if value is True else f"{name} {value}")
    return ", ".join(parts)


@dataclass
class StepView:
    op: str
    params: str
    status: str
    progress: int
    error: str | None


@dataclass
class Compare:
    before: str
    after: str
    # "actual": both at 100 % on the same centre crop; "fit": sizes differ, both scaled.
    mode: str


@dataclass
class OutputView:
    number: int
    status: str
    error: str | None
    steps: list[StepView]
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: str = "–"
    saving: float | None = None
    url: str | None = None
    download_name: str = ""
    compare: Compare | None = None
    details: str | None = None

    @property
    def saving_text(self) -> str:
        if self.saving is None:
            return ""
        if abs(self.saving) < 0.5:
            return "0%"
        if self.saving > 0:
            return f"−{self.saving:.0f}%"
        return f"+{-self.saving:.0f}%"


@dataclass
class JobCard:
    id: str
    name: str
    status: str
    expired: bool
    source: str
    created: datetime
    expires: datetime
    expires_text: str
    elapsed: str
    error: str | None
    outputs: list[OutputView] = field(default_factory=list)
    bundle_url: str | None = None
    progress: int = 0

    @property
    def polling(self) -> bool:
        return self.status in (QUEUED, RUNNING) and not self.expired

    @property
    def state(self) -> str:
        """What the card shows: the job's status, or ``expired``."""
        return "expired" if self.expired else self.status

    @property
    def url(self) -> str:
        return url_for("web.job", job_id=self.id)


def _signed(key: str, filename: str, fmt: str) -> str:
    settings = current_app.extensions["pixtools.settings"]
    url = get_storage(current_app).signed_url(
        key, expires_in=settings.signed_url_ttl_seconds, filename=filename,
        content_type=CONTENT_TYPES[fmt],
    )
    return urljoin(request.host_url, url)


def _compare(job: Job, output: Output, after: str) -> Compare | None:
    if not any(step.op in COMPARE_OPS for step in output.steps):
        return None
    if job.source_format not in CONTENT_TYPES:
        return None  # a browser cannot show a TIFF or BMP original
    stem = PurePath(job.source_name).stem or "image"
    before = _signed(job.source_key, f"{stem}-original.{EXTENSIONS[job.source_format]}",
                     job.source_format)
    same = (output.width, output.height) == (job.source_width, job.source_height)
    return Compare(before=before, after=after, mode="actual" if same else "fit")


def _step(step: Step) -> StepView:
    return StepView(op=step.op, params=_params_text(step.params or {}), status=step.status,
                    progress=step.progress, error=step.error)


def _output(job: Job, output: Output) -> OutputView:
    view = OutputView(number=output.position + 1, status=output.status, error=output.error,
                      steps=[_step(s) for s in output.steps])
    if output.status != SUCCEEDED:
        return view
    view.format, view.width, view.height = output.format, output.width, output.height
    view.size = human_bytes(output.bytes)
    if job.source_bytes and output.bytes is not None:
        view.saving = (job.source_bytes - output.bytes) / job.source_bytes * 100
    if output.details:
        view.details = json.dumps(output.details, indent=2, sort_keys=True, default=str)
    # Links appear once the whole job has ended: a running card re-renders every second,
    # and fresh signed URLs each time would make the browser fetch every image again.
    if job.status in FINISHED:
        view.url = presenters.output_url(job, output)
        view.download_name = presenters.download_name(job, output)
        if view.url:
            view.compare = _compare(job, output, view.url)
    return view


def card(job: Job, now: datetime | None = None) -> JobCard:
    now = now or clock.now()
    expired = clock.is_expired(job, now)
    end = job.finished_at if job.status in FINISHED and job.finished_at else now
    steps = [s for o in job.outputs for s in o.steps]
    progress = sum(100 if s.status in FINISHED else s.progress for s in steps)
    view = JobCard(
        id=job.id,
        name=job.source_name,
        status=job.status,
        expired=expired,
        source=f"{job.source_format.upper()} · {job.source_width} × {job.source_height} · "
               f"{human_bytes(job.source_bytes)}",
        created=job.created_at,
        expires=job.expires_at,
        expires_text=(f"expired {human_duration((now - job.expires_at).total_seconds())} ago"
                      if expired else
                      f"expires in {human_duration((job.expires_at - now).total_seconds())}"),
        elapsed=human_duration((end - job.created_at).total_seconds()),
        error=job.error,
        progress=progress // len(steps) if steps else 0,
    )
    if not expired:
        view.outputs = [_output(job, output) for output in job.outputs]
        if job.status in FINISHED and any(o.status == SUCCEEDED for o in job.outputs):
            view.bundle_url = BUNDLE_PATH.format(id=job.id)
    return view


@dataclass
class Rejected:
    """A file the page refused before it became a job; the card shows why."""

    name: str
    error: Any  # a PixToolsError: the partial shows its code and message
    key: str = field(default="")
