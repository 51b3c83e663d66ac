"""Redaction: what never reaches a log line, whatever its format.

Signed URLs' signatures, credentials in URLs, bearer tokens, and every field whose name
mentions a secret are replaced by ``[redacted]``. Plain Python: the JSON and the text
formats of ``pixtools.logs`` both pass every line through ``scrub``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

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


def scrub(value: Any, key: str = "") -> Any:
    """``value`` with secrets replaced: all of it when ``key`` names a secret, else the
    secrets inside its strings, recursively."""
    if key and _secret_key_name(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
