"""One POST to a checked target: connect to the checked address, never follow redirects.

The connection goes to ``target.address`` (resolved and checked before), with the URL's
``Host`` header and, for https, SNI and certificate verification against the URL's host.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import urllib3

from .ssrf import Target

USER_AGENT = "PixTools-Webhooks/1"
# Enough of a receiver's answer to show why it refused; the rest is never read.
SNIPPET_BYTES = 300


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
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _pool(target: Target, address: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, target.port, timeout=timeout, retries=False, maxsize=1,
            cert_reqs="CERT_REQUIRED", server_hostname=target.host, assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False,
                                      maxsize=1)


def post(target: Target, body: bytes, headers: dict[str, str], *,
         connect_timeout: float, read_timeout: float) -> Response:
    """POST ``body``; raise urllib3 errors on network failure and ``ReceiverDown`` on 5xx.

    Only the addresses checked for ``target`` are tried, in order, and only while the
    connection itself fails (nothing was sent yet).
    """
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout,
                              total=connect_timeout + read_timeout)
    request_headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    addresses = target.addresses or (target.address,)
    for index, address in enumerate(addresses):
        pool = _pool(target, address, timeout)
        started = time.perf_counter()
        try:
            raw = pool.urlopen(
                "POST", target.path, body=body, headers=request_headers, redirect=False,
                retries=False, assert_same_host=False, preload_content=False,
            )
            try:
                latency = (time.perf_counter() - started) * 1000
                snippet = b"" if 200 <= raw.status < 300 else raw.read(SNIPPET_BYTES)
            finally:
                raw.release_conn()
            break
        except urllib3.exceptions.NewConnectionError:
            if index == len(addresses) - 1:
                raise
        finally:
            pool.close()
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
