"""Jobs as the page shows them: one card per job, with everything its template needs.

A card is made from the job's public representation (``jobs.view``), the same the API
answers with, plus what only a person needs: sizes and times in words, a before/after
compare. Times are judged against ``clock.now()``, so a job past ``expires_at`` shows as
expired whether or not the cleanup command has removed its files yet.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import request, url_for

from .. import clock, jobs
from ..imaging import CONTENT_TYPES, EXTENSIONS
from ..jobs.public import JobView, Links, OutputView, safe_name_stem
from ..models import Job
from ..models.state import FINISHED, QUEUED, RUNNING, SUCCEEDED
from ..quality import placeholders

# "Download all" is served by the API; the card links to it by path.
BUNDLE_PATH = "/api/v1/jobs/{id}/bundle.zip"


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
class StepLine:
    op: str
    params: str
    status: str
    progress: int
    error: str | None


@dataclass
class Compare:
    """The original and an output in one split view; ``width`` × ``height`` is the
    original's, which "1:1" zooms to."""

    before: str
    after: str
    width: int
    height: int


@dataclass
class AutoFacts:
    """What quality auto and format auto chose, as the card shows it."""

    quality: int
    score: float
    target: float
    reached: bool
    formats: str  # the formats compared, e.g. "AVIF, WEBP, JPEG"; "" for one format

    @classmethod
    def of(cls, auto: dict[str, Any]) -> AutoFacts:
        compared = list(auto.get("formats", {})) + list(auto.get("skipped", {}))
        return cls(quality=auto["quality"], score=auto["score"], target=auto["quality_target"],
                   reached=auto["reached"],
                   formats=", ".join(f.upper() for f in compared) if compared else "")


def placeholder_url(details: dict[str, Any]) -> str | None:
    """The output's ThumbHash as a data: URL (the page's CSP allows data: images)."""
    found = details.get("placeholder") or {}
    if not found.get("thumbhash"):
        return None
    try:
        png = placeholders.thumbhash_png(found["thumbhash"])
    except (ValueError, binascii.Error):
        return None  # a damaged hash only costs the placeholder
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass
class OutputPanel:
    number: int
    status: str
    error: str | None
    steps: list[StepLine]
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: str = "–"
    saving: float | None = None
    url: str | None = None
    download_name: str = ""
    compare: Compare | None = None
    details: str | None = None
    auto: AutoFacts | None = None
    denoise: dict[str, Any] | None = None  # which model ran, at what noise level
    placeholder: str | None = None  # a data: URL shown while the result loads
    colour: str | None = None  # the dominant colour, "#rrggbb"

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
    outputs: list[OutputPanel] = field(default_factory=list)
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


def _compare(view: JobView, output: OutputView, links: Links) -> Compare | None:
    """Every output the browser can show gets a compare with its original (a TIFF or BMP
    on either side cannot be shown, so it gets a thumbnail)."""
    source = view.source
    if output.url is None or source.format not in CONTENT_TYPES:
        return None  # a browser cannot show a TIFF or BMP original
    if (output.format or "") not in CONTENT_TYPES:
        return None
    # The upload's own name is the user's: only its safe stem reaches a header.
    stem = safe_name_stem(source.name)
    before = links.download(source.key, f"{stem}-original.{EXTENSIONS[source.format]}",
                            source.format, not_after=view.expires_at)
    if before is None:
        return None
    return Compare(before=before, after=output.url, width=source.width, height=source.height)


def _panel(view: JobView, output: OutputView, links: Links) -> OutputPanel:
    panel = OutputPanel(number=output.position + 1, status=output.status, error=output.error,
                        steps=[StepLine(op=s.op, params=_params_text(s.params or {}),
                                        status=s.status, progress=s.progress, error=s.error)
                               for s in output.steps])
    if output.status != SUCCEEDED:
        return panel
    panel.format, panel.width, panel.height = output.format, output.width, output.height
    panel.size = human_bytes(output.bytes)
    if view.source.bytes and output.bytes is not None:
        panel.saving = (view.source.bytes - output.bytes) / view.source.bytes * 100
    if output.details:
        panel.details = json.dumps(output.details, indent=2, sort_keys=True, default=str)
        if "auto" in output.details:
            panel.auto = AutoFacts.of(output.details["auto"])
        panel.denoise = output.details.get("denoise")
        panel.placeholder = placeholder_url(output.details)
        panel.colour = (output.details.get("placeholder") or {}).get("dominant_colour")
    if output.url:
        panel.url, panel.download_name = output.url, output.download_name
        panel.compare = _compare(view, output, links)
    return panel


def card(job: Job, now: datetime | None = None) -> JobCard:
    now = now or clock.now()
    expired = clock.is_expired(job, now)
    links = jobs.links(request.host_url)
    # Links appear once the whole job has ended: a running card re-renders every second,
    # and fresh signed URLs each time would make the browser fetch every image again.
    view = jobs.view(job, links if job.status in FINISHED else None)
    end = view.finished_at if view.status in FINISHED and view.finished_at else now
    steps = [s for o in view.outputs for s in o.steps]
    progress = sum(100 if s.status in FINISHED else s.progress for s in steps)
    source = view.source
    card = JobCard(
        id=view.id,
        name=source.name,
        status=view.status,
        expired=expired,
        source=f"{source.format.upper()} · {source.width} × {source.height} · "
               f"{human_bytes(source.bytes)}",
        created=view.created_at,
        expires=view.expires_at,
        expires_text=(f"expired {human_duration((now - view.expires_at).total_seconds())} ago"
                      if expired else
                      f"expires in {human_duration((view.expires_at - now).total_seconds())}"),
        elapsed=human_duration((end - view.created_at).total_seconds()),
        error=view.error,
        progress=progress // len(steps) if steps else 0,
    )
    if not expired:
        card.outputs = [_panel(view, output, links) for output in view.outputs]
        if view.status in FINISHED and any(o.status == SUCCEEDED for o in view.outputs):
            card.bundle_url = BUNDLE_PATH.format(id=view.id)
    return card


@dataclass
class Rejected:
    """A file the page refused before it became a job; the card shows why."""

    name: str
    error: Any  # a PixToolsError: the partial shows its code and message
    key: str = field(default="")
