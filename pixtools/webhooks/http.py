"""One POST to a checked target: connect to the checked address, never follow redirects.

The connection goes to ``target.address`` (resolved and checked before), with the URL's
``Host`` header and, for https, SNI and certificate verification against the URL's host.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import urllib3
import urllib3.connection
from urllib3.util.ssl_match_hostname import CertificateError

from .ssrf import Target

USER_AGENT = "PixTools-Webhooks/1"
# Enough of a receiver's answer to show why it refused; the rest is never read.
SNIPPET_BYTES = 300
# The longest Retry-After read from an answer (a year); the delivery clamps it further, to
# its backoff maximum and its retry window.
MAX_RETRY_AFTER = 365 * 24 * 3600.0


class ReceiverDown(Exception):
    """A 5xx answer: the receiver is there but failing. Counts against its breaker."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


@dataclass(frozen=True)
class Response:
    status: int
    latency_ms: float
    retry_after: float | None
    location: str | None
    snippet: str


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # A receiver may send any number of digits: keep it finite (callers clamp it further).
        return float(min(int(value[:12]), MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER,
               max(0.0, (when - (now or datetime.now(UTC))).total_seconds()))


class DeadlineExceeded(TimeoutError):
    """The attempt ran past its wall-clock deadline (connect, headers and body together)."""


class _Watchdog:
    """Shuts a connection's socket down at the deadline, waking a read blocked on it.

    A per-read timeout never fires against a receiver that drips one byte at a time;
    ``shutdown`` from this timer ends the blocked read at once, whatever phase it is in.
    """

    def __init__(self, conn: urllib3.connection.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        sock = getattr(self._conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _connection(target: Target, address: str,
                timeout: float) -> urllib3.connection.HTTPConnection:
    if target.scheme == "https":
        return urllib3.connection.HTTPSConnection(
            address, target.port, timeout=timeout, cert_reqs="CERT_REQUIRED",
            server_hostname=target.host, assert_hostname=target.host,
        )
    return urllib3.connection.HTTPConnection(address, target.port, timeout=timeout)


def _connect(target: Target, timeout: float,
             deadline: float) -> urllib3.connection.HTTPConnection:
    """Connect to the first checked address that answers, within the deadline."""
    addresses = target.addresses or (target.address,)
    for index, address in enumerate(addresses):
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the deadline passed while connecting")
        conn = _connection(target, address, min(timeout, left))
        try:
            conn.connect()
            return conn
        except (CertificateError, ssl.SSLError) as exc:  # as urllib3's pools report it
            conn.close()
            raise urllib3.exceptions.SSLError(str(exc)) from exc
        except (urllib3.exceptions.NewConnectionError, OSError):
            conn.close()
            if index == len(addresses) - 1:
                raise
    raise DeadlineExceeded("no address to connect to")  # pragma: no cover (never empty)


def post(target: Target, body: bytes, headers: dict[str, str], *,
         connect_timeout: float, read_timeout: float,
         deadline_seconds: float | None = None) -> Response:
    """POST ``body``; raise urllib3/OS errors on network failure, ``DeadlineExceeded`` past
    the attempt's wall-clock deadline, and ``ReceiverDown`` on 5xx.

    Only the addresses checked for ``target`` are tried, in order, and only while the
    connection itself fails (nothing was sent yet). ``deadline_seconds`` bounds the whole
    attempt (connect, headers and body); by default connect plus read timeout.
    """
    total = deadline_seconds if deadline_seconds is not None else connect_timeout + read_timeout
    started = time.monotonic()
    deadline = started + total
    request_headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    conn = _connect(target, connect_timeout, deadline)
    try:
        with _Watchdog(conn, deadline - time.monotonic()) as watchdog:
            try:
                conn.timeout = read_timeout  # per read from now on (urllib3 applies it)
                conn.request("POST", target.path, body=body, headers=request_headers,
                             preload_content=False)
                raw = conn.getresponse()
                latency = (time.monotonic() - started) * 1000
                snippet = b"" if 200 <= raw.status < 300 else raw.read(SNIPPET_BYTES)
            except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException):
                if watchdog.fired:
                    raise DeadlineExceeded(
                        f"the receiver did not answer within the deadline of {total:g} s"
                    ) from None
                raise
    finally:
        conn.close()
    response = Response(
        status=raw.status,
        latency_ms=latency,
        retry_after=retry_after_seconds(raw.headers.get("Retry-After")),
        location=raw.headers.get("Location"),
        snippet=snippet.decode("utf-8", "replace").strip(),
    )
    if response.status >= 500:
        raise ReceiverDown(response)
    return response
