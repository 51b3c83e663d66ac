"""Logs with context: a request id per HTTP request that follows its job into every task.

``configure`` installs one handler on the root logger (idempotent): JSON lines for machines,
or short readable lines for a person at a terminal (``PIXTOOLS_LOG_FORMAT``). ``init_app``
adds the request-id middleware; ``connect_huey`` (called by ``queues``) logs Huey's task
signals. Context fields (``request_id``, ``job_id``, ``step``, ``queue``, ``attempt``…) live
in a context variable and are added to every record logged in that context; ``bind`` adds
to them. Every line, in either format, passes through ``redaction.scrub`` first, so signed
URLs, credentials in URLs and secret-looking fields never reach the output.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TextIO

from flask import Flask, Response, g, request
from huey import Huey
from huey import signals as huey_signals
from huey.api import PeriodicTask
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .redaction import redact, scrub

__all__ = ["JsonFormatter", "TextFormatter", "configure", "redact"]

log = logging.getLogger(__name__)
task_log = logging.getLogger("pixtools.tasks")

# Proxies and clients send ids such as UUIDs, hex strings or "<service>-<n>"; anything else
# (spaces, newlines, markup, over 64 characters — the job row's column) is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
REQUEST_ID_HEADER = "X-Request-ID"

_context: ContextVar[dict[str, Any]] = ContextVar("pixtools_log_context", default={})  # noqa: B039
_task_started: ContextVar[float] = ContextVar("pixtools_task_started", default=0.0)

# --- formats ----------------------------------------------------------------------------


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message and context fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__("{levelname}{name}{message}", *args, style="{", **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Last stop before output: message, extras and traceback text are all scrubbed.
        ordered = {"timestamp": log_data.pop("timestamp", None), **log_data}
        return {key: scrub(value, key) for key, value in ordered.items()}


class ContextFilter(logging.Filter):
    """Adds the current context fields to each record (explicit ``extra`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is now (test runners and daemons swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


# A record's own attributes; everything else on it is context (``extra`` and bound fields).
_NOT_CONTEXT = frozenset(RESERVED_ATTRS) | {"taskName"}


class TextFormatter(logging.Formatter):
    """One readable line: local time, level, message, then the context as ``key=value``
    (``14:34:43 INFO  step done  op=resize job_id=nozQ…``), scrubbed like the JSON."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{key}={scrub(value, key)}" for key, value in vars(record).items()
            if key not in _NOT_CONTEXT and not key.startswith("_") and value is not None
        )
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{when} {record.levelname:<7} {redact(record.getMessage())}"
        if context:
            line += "  " + context
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def choose_format(setting: str, mode: str, stream: TextIO) -> str:
    """``json`` or ``text`` for ``PIXTOOLS_LOG_FORMAT``: ``auto`` means text for a person
    (desktop mode writing to a terminal), JSON for everything else (server mode always)."""
    if setting != "auto":
        return setting
    interactive = getattr(stream, "isatty", lambda: False)()
    return "text" if mode == "desktop" and interactive else "json"


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """Send every log record to stderr as ``fmt`` (json or text); safe to call again
    (updates the level and the format)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_pixtools", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._pixtools = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    root.setLevel(level)
    logging.captureWarnings(True)
    # Our own request line replaces werkzeug's, which would print full URLs with their query.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    huey_logger = logging.getLogger("huey")
    if not any(isinstance(f, _HueyDuplicates) for f in huey_logger.filters):
        huey_logger.addFilter(_HueyDuplicates())


# --- context ----------------------------------------------------------------------------


def bind(**fields: Any) -> None:
    """Add ``fields`` to the log context of the current request or task."""
    _context.set({**_context.get(), **fields})


def context() -> dict[str, Any]:
    return dict(_context.get())


def current_request_id() -> str | None:
    value = _context.get().get("request_id")
    return value if isinstance(value, str) else None


def job_log_context(job: Any) -> dict[str, Any]:
    """The fields that name a job in its tasks' log lines: its id and its request id."""
    return {"job_id": job.id, "request_id": job.request_id}


def accept_request_id(value: str | None) -> str:
    """``value`` when it is a well-formed id, otherwise a new random one."""
    if value and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return uuid.uuid4().hex


# --- HTTP requests ------------------------------------------------------------------------

# Probes and scrapes arrive every few seconds: log them only at debug level.
_QUIET_PATHS = ("/api/health", "/metrics")


def _start_request() -> None:
    request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_id = request_id
    g.log_token = _context.set({"request_id": request_id})
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id, started = g.get("request_id"), g.get("started")
    if request_id and started is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
        level = logging.DEBUG if request.path.startswith(_QUIET_PATHS) else logging.INFO
        log.log(
            level,
            "request",
            extra={
                "method": request.method,
                # The path only: query strings can hold signatures.
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    return response


def _end_request(exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        _context.reset(token)


# --- Huey signals -----------------------------------------------------------------------

_TERMINAL = {
    huey_signals.SIGNAL_CANCELED, huey_signals.SIGNAL_EXPIRED, huey_signals.SIGNAL_LOCKED,
    huey_signals.SIGNAL_REVOKED, huey_signals.SIGNAL_TIMEOUT, huey_signals.SIGNAL_INTERRUPTED,
    huey_signals.SIGNAL_RATE_LIMITED,
}


class _HueyDuplicates(logging.Filter):
    """Drops Huey's own lines that our signal lines replace (with more context)."""

    _REPLACED = ("Executing %s", "%s executed in %0.3fs", "Unhandled exception in task %s.")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self._REPLACED


def attempt_of(task: Any) -> int:
    """Which run of ``task`` this is: 1, then 2… as Huey spends its retries."""
    configured = int(getattr(type(task), "default_retries", 0) or 0)
    return max(1, configured - int(task.retries or 0) + 1)


def connect_huey(huey: Huey, queue: str) -> None:
    """Log every task signal of ``huey``; a task failure is logged here once, with traceback."""

    @huey.signal()
    def _on_signal(signal: str, task: Any, *args: Any) -> None:
        # Periodic tasks start every minute or so: their routine lines are debug-level.
        routine = logging.DEBUG if isinstance(task, PeriodicTask) else logging.INFO
        if signal == huey_signals.SIGNAL_EXECUTING:
            carried = task.kwargs.get("log_context") if isinstance(task.kwargs, dict) else None
            _context.set({
                **(carried if isinstance(carried, dict) else {}),
                "queue": queue, "task": task.name, "task_id": task.id, "attempt": attempt_of(task),
            })
            _task_started.set(time.perf_counter())
            task_log.log(routine, "task started")
            return
        base = {"queue": queue, "task": task.name, "task_id": task.id}
        started = _task_started.get()
        if started and signal in (huey_signals.SIGNAL_COMPLETE, huey_signals.SIGNAL_ERROR):
            base["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if signal == huey_signals.SIGNAL_COMPLETE:
            task_log.log(routine, "task finished", extra=base)
        elif signal == huey_signals.SIGNAL_ERROR:
            exc = args[0] if args else None
            exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
            task_log.error("task failed", exc_info=exc_info,
                           extra={**base, "retries_left": task.retries})
            if task.retries:
                return  # the retrying line follows, still in this task's context
        elif signal == huey_signals.SIGNAL_RETRYING:
            task_log.warning("task will be retried", extra={**base, "retries_left": task.retries})
        elif signal == huey_signals.SIGNAL_ENQUEUED:
            task_log.debug("task enqueued", extra=base)
            return
        elif signal == huey_signals.SIGNAL_SCHEDULED:
            task_log.info("task scheduled", extra={**base, "eta": str(task.eta)})
            return
        elif signal in _TERMINAL:
            task_log.warning(f"task {signal}", extra=base)
        # The task is over: later lines of this worker thread belong to no task.
        _context.set({})
        _task_started.set(0.0)


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    configure(settings.log_level, choose_format(settings.log_format, settings.mode, sys.stderr))
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
