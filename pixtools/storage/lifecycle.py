"""S3 lifecycle rules that let the bucket itself drop what PixTools no longer needs.

Two rules, identified by their ids so that applying them again replaces only them and keeps
any rule the operator wrote: objects under ``<prefix>jobs/`` (uploads, hand-offs, results)
expire after the retention period — the job TTL rounded up to whole days, at least one —
and incomplete multipart uploads under the prefix are aborted after a day. The rules are a
backstop: ``flask pixtools cleanup`` expires jobs on time and marks their rows.
"""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..config import Settings
from .base import StorageError
from .s3 import S3Storage

EXPIRE_RULE_ID = "pixtools-expire-jobs"
ABORT_RULE_ID = "pixtools-abort-incomplete-uploads"
OUR_RULES = (EXPIRE_RULE_ID, ABORT_RULE_ID)

DESKTOP_EXPLANATION = (
    "Files are kept in a local folder ({where}), which has no lifecycle rules: "
    "`flask pixtools cleanup` deletes expired jobs' files and orphan objects, and the "
    "standard consumer runs it every {minutes} minutes."
)


def retention_days(settings: Settings) -> int:
    """The job TTL in whole days, rounded up (S3 counts expiry in days), at least 1."""
    return max(1, math.ceil(settings.job_ttl_hours / 24))


def desired_rules(storage: S3Storage, settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "ID": EXPIRE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": f"{storage.prefix}jobs/"},
            "Expiration": {"Days": retention_days(settings)},
        },
        {
            "ID": ABORT_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": storage.prefix},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]


def current_rules(storage: S3Storage) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules as S3 reports them (empty when it has none)."""
    try:
        reply = storage.client.get_bucket_lifecycle_configuration(Bucket=storage.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise StorageError(_explain("read", storage, exc)) from exc
    except BotoCoreError as exc:
        raise StorageError(_explain("read", storage, exc)) from exc
    rules: list[dict[str, Any]] = reply.get("Rules", [])
    return rules


def apply(storage: S3Storage, settings: Settings) -> list[dict[str, Any]]:
    """Write our rules, keeping the bucket's other rules; return the rules now in force."""
    others = [rule for rule in current_rules(storage) if rule.get("ID") not in OUR_RULES]
    rules = others + desired_rules(storage, settings)
    try:
        storage.client.put_bucket_lifecycle_configuration(
            Bucket=storage.bucket, LifecycleConfiguration={"Rules": rules}
        )
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(_explain("write", storage, exc)) from exc
    return current_rules(storage)


def outdated(storage: S3Storage, settings: Settings, current: list[dict[str, Any]]) -> bool:
    """Whether any of our rules is missing from ``current`` or differs from what we want."""
    by_id = {rule.get("ID"): rule for rule in current}
    return any(
        any(by_id.get(wanted["ID"], {}).get(field) != value for field, value in wanted.items())
        for wanted in desired_rules(storage, settings)
    )


def describe(rule: dict[str, Any]) -> str:
    """One line a person can read, e.g. ``pixtools-expire-jobs: under 'images/jobs/' …``."""
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    parts = []
    if "Expiration" in rule:
        expiration = rule["Expiration"]
        days = expiration.get("Days")
        parts.append(f"expire objects after {days} day(s)" if days else f"expire {expiration}")
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        parts.append(f"abort incomplete multipart uploads after {days} day(s)")
    if not parts:
        parts.append("other actions")
    state = "" if rule.get("Status") == "Enabled" else f" [{rule.get('Status', '?')}]"
    return f"{rule.get('ID', '(no id)')}: under {prefix!r}: {', '.join(parts)}{state}"


def _explain(action: str, storage: S3Storage, exc: Exception) -> str:
    return (
        f"cannot {action} the lifecycle rules of bucket {storage.bucket!r}: {exc}. Check the "
        "bucket name, PIXTOOLS_S3_ENDPOINT_URL and that the credentials may "
        "get/put the bucket lifecycle configuration."
    )
