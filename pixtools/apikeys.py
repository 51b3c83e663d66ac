"""API keys: how scripts prove who they are in server mode.

A key is shown once, when it is made; only its SHA-256 is stored. Keys are 256 random
bits, so a plain hash is enough (a slow password hash protects guessable secrets, and
these are not guessable). A key's jobs belong to ``key:<id>``; revoking a key locks its
holder out at once, and its jobs then expire as usual.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from . import hotcache
from .db import db
from .models import ApiKey, utcnow

PREFIX = "pxt_"
# Writing "last used" on every request would turn each read into a write; once a minute
# is precise enough to tell a live key from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    id: str
    name: str
    secret: str  # the key itself: shown once, never stored


def owner_for(key_id: str) -> str:
    return f"key:{key_id}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(name: str) -> NewKey:
    """Make and store a key; the returned secret is the only copy there will ever be."""
    secret = PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        id=secrets.token_hex(8), name=name.strip()[:100], key_hash=digest(secret),
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.commit()
    return NewKey(id=record.id, name=record.name, secret=secret)


def all_keys() -> list[ApiKey]:
    return list(db.session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars())


def revoke(key_id: str) -> ApiKey | None:
    """Revoke the key (idempotent); ``None`` when there is no such key."""
    record = db.session.get(ApiKey, key_id)
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
        hotcache.get_cache().forget("apikey", record.key_hash)
    return record


def authenticate(secret: str) -> str | None:
    """The owner of the live key whose secret this is, or ``None`` (unknown, malformed or
    revoked). Answers are kept briefly in the hot cache; ``revoke`` drops them at once."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    return owner_of_hash(digest(secret))


def owner_of_hash(key_hash: str) -> str | None:
    """The owner of the live key with this digest (a page session keeps the digest, never
    the secret), or ``None``: a revoked key ends its sessions at once."""
    cache = hotcache.get_cache()
    cached = cache.get("apikey", key_hash)
    if cached is not None:
        return cached.decode()
    record = db.session.execute(
        select(ApiKey).where(ApiKey.key_hash == key_hash)
    ).scalar_one_or_none()
    if record is None or record.revoked_at is not None:
        return None
    now = utcnow()
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        record.last_used_at = now
        db.session.commit()
    # Kept for less than LAST_USED_RESOLUTION, so "last used" stays that precise.
    cache.put("apikey", key_hash, record.owner.encode())
    return record.owner
