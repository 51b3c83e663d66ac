"""How fast one client may submit: 429 with ``Retry-After`` past the rate, and every
submission's answer advertising the rate with the IETF draft's ``RateLimit-Policy`` and
``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers).

Counted in Redis in server mode (shared by every web process) and in memory in desktop
mode. The other limits live where their data is: queue depth (503) and output sizes in
``jobs.prepare``, upload bytes and pixels in ``uploads``, sizes per step in the runner.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from ..errors import TooManyRequests
from .errors import render


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
    return render(TooManyRequests(
        f"Too many submissions: each client may send {rate}. Try again in {retry_after} s.",
        retry_after=retry_after,
    ))


def policy_name(seconds: int) -> str:
    """The quota policy's identifier in both fields: one per window of the rate setting."""
    return f"submissions-{seconds}s"


def _advertise(response: Response) -> Response:
    """``RateLimit-Policy: "submissions-60s";q=120;w=60`` and ``RateLimit:
    "submissions-60s";r=117;t=42`` (r: submissions left, t: seconds until one more is
    allowed) on every counted submission, 429s included."""
    if _not_a_submission():
        return response
    limiter: Limiter = current_app.extensions["pixtools.limiter"]
    policies, states = [], []
    try:
        now = time.time()
        for current in limiter.current_limits:
            seconds = int(current.limit.get_expiry())
            reset, remaining = current.window
            name = policy_name(seconds)
            policies.append(f'"{name}";q={current.limit.amount};w={seconds}')
            states.append(f'"{name}";r={max(0, remaining)};t={max(0, math.ceil(reset - now))}')
    except Exception:  # the counts' store is unreachable: the answer goes out without them
        return response
    if policies:
        response.headers["RateLimit-Policy"] = ", ".join(policies)
        response.headers["RateLimit"] = ", ".join(states)
    return response


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
    app.after_request(_advertise)


def init_app(app: Flask) -> None:
    _init_rate_limit(app)
