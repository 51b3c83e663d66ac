"""Short-lived answers kept in Redis, so hot reads skip the database (server mode only).

Two things are read far more often than they change: the API key behind a request, and a
finished job's status (clients poll it; pages reload it). Both are kept for at most
``TTL_SECONDS``. Whatever changes them (revoking a key; retrying, expiring or deleting a
job) calls ``forget``, which leaves a tombstone for as long as any copy could live: reads
see the tombstone and go to the database, and a writer that read the old state just
before cannot store it again (``put`` only writes while there is no tombstone). A cache
that cannot be reached is a miss, never an error.

A request may say at its start which item it will read (``expect``, e.g. the status
request's job): the request's first read then fetches it too, in the same round trip (a
status request with an API key reads the key and the job's answer in one MGET).

Desktop mode has no Redis and no need (SQLite is a file in the same process): its cache
keeps nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, current_app, has_request_context, request

log = logging.getLogger(__name__)

TTL_SECONDS = 30

# SET the value unless the item's tombstone exists: KEYS[1] value key, KEYS[2] tombstone.
_PUT_UNLESS_FORGOTTEN = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""


class HotCache:
    """Keeps nothing: every read is a miss (desktop mode)."""

    def get(self, kind: str, ident: str, variant: str = "") -> bytes | None:
        return None

    def put(self, kind: str, ident: str, value: bytes, *, variant: str = "",
            ttl: float = TTL_SECONDS) -> None:
        return None

    def forget(self, kind: str, ident: str) -> None:
        return None

    def expect(self, kind: str, ident: str, variant: str = "") -> None:
        """This request will read this item: fetch it with the request's first read."""
        return None


Item = tuple[str, str, str]  # kind, ident, variant
_EXPECTED, _FETCHED = "pixtools.hot.expected", "pixtools.hot.fetched"


class RedisHotCache(HotCache):
    """Values under ``<prefix>:hot:<kind>:<ident>[:<variant>]``, tombstones beside them."""

    def __init__(self, url: str, prefix: str) -> None:
        # Short timeouts: a slow Redis must cost a read little more than a miss does.
        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._prefix = prefix
        self._put = self._client.register_script(_PUT_UNLESS_FORGOTTEN)

    def _keys(self, kind: str, ident: str, variant: str) -> tuple[str, str]:
        base = f"{self._prefix}:hot:{kind}:{ident}"
        return f"{base}:{variant}", f"{base}:forgotten"

    def get(self, kind: str, ident: str, variant: str = "") -> bytes | None:
        item = (kind, ident, variant)
        # Kept in the request's own environ: nothing carries over to another request.
        state: dict[str, Any] = request.environ if has_request_context() else {}
        fetched: dict[Item, bytes | None] = state.get(_FETCHED, {})
        if item in fetched:
            return fetched.pop(item)  # read ahead with an earlier read of this request
        expected: list[Item] = state.pop(_EXPECTED, [])
        items = [item, *(other for other in expected if other != item)]
        try:
            values = self._client.mget([key for i in items for key in self._keys(*i)])
        except redis.RedisError as exc:
            log.debug("hot cache unavailable: %s", exc)
            return None
        found: dict[Item, bytes | None] = {}
        for n, i in enumerate(items):
            value, forgotten = values[2 * n], values[2 * n + 1]
            found[i] = value if forgotten is None and isinstance(value, bytes) else None
        if len(items) > 1:
            state[_FETCHED] = {i: found[i] for i in items[1:]}
        return found[item]

    def expect(self, kind: str, ident: str, variant: str = "") -> None:
        if has_request_context():
            request.environ.setdefault(_EXPECTED, []).append((kind, ident, variant))

    def put(self, kind: str, ident: str, value: bytes, *, variant: str = "",
            ttl: float = TTL_SECONDS) -> None:
        seconds = max(1, min(int(ttl), TTL_SECONDS))
        try:
            self._put(keys=list(self._keys(kind, ident, variant)), args=[value, seconds])
        except redis.RedisError as exc:
            log.debug("hot cache unavailable: %s", exc)

    def forget(self, kind: str, ident: str) -> None:
        # Outlives every copy stored before it (their TTL is at most TTL_SECONDS).
        try:
            self._client.set(self._keys(kind, ident, "")[1], b"1", ex=TTL_SECONDS + 1)
        except redis.RedisError as exc:
            log.warning("could not drop cached %s %s (it lapses within %d s): %s",
                        kind, ident, TTL_SECONDS, exc)


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    cache = (RedisHotCache(settings.redis_url, settings.queue_prefix)
             if settings.mode == "server" else HotCache())
    app.extensions["pixtools.hotcache"] = cache


def get_cache(app: Flask | None = None) -> HotCache:
    cache: HotCache = (app or current_app).extensions["pixtools.hotcache"]
    return cache
