"""Idempotency keys for ``POST /api/v1/jobs``: reading the header and hashing the request.

The key and the hash are stored on the job row (unique per owner), so a client that retries
a submission after a timeout gets the job it already made, even across restarts of Redis
or of the app. Keys expire with their job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sqlalchemy import select

from .. import clock
from ..db import db
from ..errors import BadRequest, Conflict, IdempotencyKeyReused
from ..models import Job
from ..recipe import Recipe

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def parse_key(raw: str | None) -> str | None:
    """The key from the header, or None when the header is absent; 400 when malformed."""
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise BadRequest(
            f"{HEADER} must be 1–{MAX_KEY_LENGTH} printable ASCII characters; "
            "a random UUID per request is a good choice."
        )
    return key


def request_hash(data: bytes, filename: str, recipe: Recipe, webhook_url: str | None = None) -> str:
    """A digest of everything that defines the job, so a reused key with another request shows.

    The recipe is hashed after validation (defaults filled in), so two spellings of the same
    recipe count as the same request.
    """
    canonical = json.dumps(
        {
            "file": hashlib.sha256(data).hexdigest(),
            "filename": filename,
            "outputs": [[dataclasses.asdict(step) for step in steps] for steps in recipe.outputs],
            "options": recipe.options.model_dump(mode="json"),
            "webhook_url": webhook_url,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def job_for_key(owner: str, key: str, digest: str) -> Job | None:
    """The live job ``owner`` made with ``key``, or None; 422 when it was made for another
    request. A key whose job has expired is free again (keys expire with their jobs)."""
    job = db.session.execute(
        select(Job).where(Job.owner == owner, Job.idempotency_key == key)
    ).scalar_one_or_none()
    if job is not None and clock.is_expired(job):
        job.idempotency_key = job.request_hash = None
        db.session.commit()
        return None
    if job is not None and job.request_hash != digest:
        raise IdempotencyKeyReused(
            f"This {HEADER} was already used for a different request (another file, "
            "file name or recipe): send a new key for a new job."
        )
    return job


def in_use() -> Conflict:
    return Conflict(f"The same {HEADER} is in use by a concurrent request: try again.")
