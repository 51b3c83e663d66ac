"""Limits and backpressure: how much one client may ask for, and how much the service takes on.

- a per-client submission rate (429 with ``Retry-After``), counted in Redis in server mode
  (shared by every web process) and in memory in desktop mode;
- queue depth: when a queue a recipe needs already holds more than its threshold, the
  submission is refused with 503 and ``Retry-After`` rather than accepted and left to rot;
- output dimensions: refused in the recipe where the parameters alone show it, and checked
  by the runner before and after every operation where only the image shows it.

Upload bytes, source pixels and frames are checked where the bytes are read
(``api.read_upload``, ``imaging.inspect``); steps and outputs per recipe in ``recipe``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from . import errors
from .errors import InvalidRecipe, ServiceUnavailable, StepFailed, TooManyRequests
from .recipe import Recipe

log = logging.getLogger(__name__)


def _settings() -> Any:
    return current_app.extensions["pixtools.settings"]


# --- rate -------------------------------------------------------------------------------


def client_key() -> str:
    """Whom a submission counts against: the API key when there is one, else the address
    (a browser could shed its owner cookie at will; its address it cannot)."""
    owner = g.get("owner", "")
    return owner if owner.startswith("key:") else f"ip:{get_remote_address()}"


def _not_a_submission() -> bool:
    # Submissions are what cost work; reading jobs, polling and downloads are not counted.
    return request.method != "POST"


def _rate_limited(exc: RateLimitExceeded) -> Response:
    limiter: Limiter = current_app.extensions["pixtools.limiter"]
    current = limiter.current_limit
    # When the oldest counted submission leaves the window, one more is allowed.
    reset = current.window[0] if current is not None else time.time() + 60
    retry_after = max(1, math.ceil(reset - time.time()))
    rate = _settings().submit_rate_limit.replace("/", " per ").replace(";", ", ")
    return errors.render(TooManyRequests(
        f"Too many submissions: each client may send {rate}. Try again in {retry_after} s.",
        retry_after=retry_after,
    ))


def _init_rate_limit(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    server = settings.mode == "server"
    limiter = Limiter(
        client_key,
        app=app,
        storage_uri=settings.redis_url if server else "memory://",
        # A dead Redis must not hang or fail submissions: wait briefly, then let them through.
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if server else {},
        swallow_errors=True,
        strategy="moving-window",
        application_limits=[lambda: _settings().submit_rate_limit],
        application_limits_exempt_when=_not_a_submission,
        key_prefix=settings.queue_prefix,
        headers_enabled=False,
    )
    # Checked before anything else the limiter does per request: reads cost no rate work.
    limiter.request_filter(_not_a_submission)
    app.extensions["pixtools.limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _rate_limited)


# --- queue depth ------------------------------------------------------------------------


def check_capacity(queue_names: Iterable[str]) -> None:
    """Refuse new work (503) when a queue it needs is deeper than its threshold."""
    from .queues import get_queues

    settings = _settings()
    thresholds = {"standard": settings.max_queued_standard, "ml": settings.max_queued_ml}
    queues = get_queues()
    for name in sorted(set(queue_names)):
        try:
            waiting = queues.by_name(name).pending_count()
        except (redis.RedisError, sqlite3.Error) as exc:
            # The queue cannot be asked: accept the job (it is committed first and runs once
            # the queue is back) rather than refuse work we might well be able to do.
            log.warning("queue depth unknown", extra={"queue": name, "error": str(exc)})
            continue
        if waiting >= thresholds[name]:
            raise ServiceUnavailable(
                f"PixTools is busy: {waiting} steps are waiting on the {name} queue. "
                f"Try again in {settings.busy_retry_after_seconds} s.",
                retry_after=settings.busy_retry_after_seconds,
            )


def recipe_queues(recipe: Recipe) -> set[str]:
    return {step.queue for steps in recipe.outputs for step in steps}


# --- output dimensions ------------------------------------------------------------------


def _too_big(width: int, height: int) -> str | None:
    settings = _settings()
    if width > settings.max_output_side or height > settings.max_output_side:
        return f"results may be at most {settings.max_output_side} pixels a side"
    if width * height > settings.max_output_pixels:
        return f"results may have at most {settings.max_output_pixels / 1e6:g} megapixels"
    return None


def check_recipe(recipe: Recipe) -> None:
    """Refuse (422) output sizes the parameters alone show to be over the limits."""
    settings = _settings()
    for index, steps in enumerate(recipe.outputs):
        for position, step in enumerate(steps):
            where = f"outputs.{index}.steps.{position}"
            params = step.params
            if step.op != "resize":
                continue
            for side in ("width", "height"):
                value = params.get(side)
                if value is not None and value > settings.max_output_side:
                    raise InvalidRecipe(
                        f"{where}.{side}: {value} is larger than {settings.max_output_side}, "
                        "the largest side a result may have.",
                        field=f"{where}.{side}",
                    )
            width, height = params.get("width"), params.get("height")
            if params.get("upscale") and width and height:
                problem = _too_big(width, height)
                if problem:
                    raise InvalidRecipe(
                        f"{where}: enlarging to {width} × {height} ({width * height / 1e6:.1f} "
                        f"megapixels) is not allowed: {problem}.",
                        field=where,
                    )


def _predict_resize(size: tuple[int, int], params: Any) -> tuple[int, int]:
    from .operations.resize import plan

    # fill scales the whole image before cropping: the larger of the two is what is allocated
    scaled, final = plan(size, params).scaled, plan(size, params).final
    return max(scaled, final, key=lambda s: s[0] * s[1])


# Operations whose result size can be known before running them: checked first, so an
# oversized result is refused before its memory is allocated.
PREDICTED_SIZE: dict[str, Callable[[tuple[int, int], Any], tuple[int, int]]] = {
    "resize": _predict_resize,
}


def check_step_before(op: str, params: Any, size: tuple[int, int]) -> None:
    predict = PREDICTED_SIZE.get(op)
    if predict is not None:
        _check_result(op, predict(size, params), "would make")


def check_step_after(op: str, size: tuple[int, int]) -> None:
    _check_result(op, size, "made")


def _check_result(op: str, size: tuple[int, int], verb: str) -> None:
    problem = _too_big(*size)
    if problem:
        raise StepFailed(
            f"{op} {verb} the image {size[0]} × {size[1]} pixels, but {problem}: "
            "ask for a smaller size."
        )


def init_app(app: Flask) -> None:
    _init_rate_limit(app)
