"""JSON logs with context: a request id per HTTP request that follows its job into every task.

``configure`` installs one JSON handler on the root logger (idempotent). ``init_app`` adds the
request-id middleware; ``connect_huey`` (called by ``queues``) logs Huey's task signals.
Context fields (``request_id``, ``job_id``, ``step``, ``queue``, ``attempt``…) live in a
context variable and are added to every record logged in that context; ``bind`` adds to
them. Every line passes through ``redact`` first, so
signed URLs, credentials in URLs and secret-looking fields never reach the output.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any, TextIO

from flask import Flask, Response, g, request
from huey import Huey
from huey import signals as huey_signals
from huey.api import PeriodicTask
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

log = logging.getLogger(__name__)
task_log = logging.getLogger("pixtools.tasks")

# Proxies and clients send ids such as UUIDs, hex strings or "<service>-<n>"; anything else
# (spaces, newlines, markup, over 64 characters — the job row's column) is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
REQUEST_ID_HEADER = "X-Request-ID"

_context: ContextVar[dict[str, Any]] = ContextVar("pixtools_log_context", default={})  # noqa: B039
_task_started: ContextVar[float] = ContextVar("pixtools_task_started", default=0.0)

# --- redaction --------------------------------------------------------------------------

REDACTED = "[redacted]"
# Query parameters that make a URL a credential: S3 presigned URLs and our signed links.
_SIGNED_QUERY = re.compile(
    r"(?i)([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|awsaccesskeyid|token|api_key|apikey|access_token)=)[^&\s\"'<>]+"
)
# user:password@ in URLs (database, Redis, webhook URLs).
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_WHITESPACE = re.compile(r"\s")
# Field names whose values are never logged, whatever they hold.
_SECRET_KEYS = re.compile(
    r"(?i)(secret|password|passwd|token|api_?key|authorization|cookie|signature|gps|latitude"
    r"|longitude)"
)


def redact(text: str) -> str:
    """``text`` with signatures, URL passwords and bearer tokens replaced."""
    # Each pattern runs only where its anchor character occurs: most fields of most lines
    # hold none, and every request writes a line.
    if "=" in text:
        text = _SIGNED_QUERY.sub(rf"\1{REDACTED}", text)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    if _WHITESPACE.search(text):
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return text


@functools.lru_cache(maxsize=512)
def _secret_key_name(key: str) -> bool:
    return bool(_SECRET_KEYS.search(key))


def _scrub(value: Any, key: str = "") -> Any:
    if key and _secret_key_name(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message and context fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__("{levelname}{name}{message}", *args, style="{", **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Last stop before output: message, extras and traceback text are all scrubbed.
        ordered = {"timestamp": log_data.pop("timestamp", None), **log_data}
        return {key: _scrub(value, key) for key, value in ordered.items()}


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


def configure(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON; safe to call again (updates the level)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_pixtools", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._pixtools = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
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
    configure(app.extensions["pixtools.settings"].log_level)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
