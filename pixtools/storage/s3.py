"""Storage in an S3 bucket (AWS, MinIO or any S3-compatible store) through boto3."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO, cast
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import Storage, StorageError, content_disposition

# Seconds between two probe round trips of the readiness check (each is a write).
CHECK_EVERY = 30.0


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 public_url: str | None = None) -> None:
        self.bucket = bucket
        self._check_lock = threading.Lock()
        self._last_check: tuple[float, str | None] | None = None  # (when, error)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # Short timeouts and few retries: a dead endpoint must fail a request, not hang it.
        self._config = Config(
            connect_timeout=3,
            read_timeout=20,
            retries={"max_attempts": 3, "mode": "standard"},
            signature_version="s3v4",
            max_pool_connections=20,
        )
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=self._config)
        self.endpoint_url = endpoint_url
        self.public_url = public_url
        self._signers: dict[str, Any] = {}
        self._signers_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None,
                 public_url: str | None = None) -> S3Storage:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"storage URL {url!r} names no bucket: use s3://bucket/prefix")
        return cls(parsed.netloc, parsed.path, endpoint_url=endpoint_url, public_url=public_url)

    def _signer(self) -> Any:
        """The client whose endpoint links are signed for: a v4 signature covers the host.

        Signing is local: a client for the public address never connects anywhere.
        """
        public = self.public_url
        if not public or public == self.endpoint_url:
            return self.client
        with self._signers_lock:  # creating boto3 clients is not thread-safe
            if public not in self._signers:
                self._signers[public] = boto3.client("s3", endpoint_url=public,
                                                     config=self._config)
            return self._signers[public]

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot store {key!r} in bucket {self.bucket!r}: {exc}") from exc

    def get(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise StorageError(f"no object {key!r}") from None
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc
        return cast(BinaryIO, response["Body"])

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(key) for key in self.keys(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
            except (BotoCoreError, ClientError) as exc:
                raise StorageError(f"cannot delete from bucket {self.bucket!r}: {exc}") from exc
        return len(keys)

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list bucket {self.bucket!r}: {exc}") from exc

    def modified(self, key: str) -> datetime:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read {key!r} from bucket {self.bucket!r}: {exc}") from exc
        modified: datetime = head["LastModified"]
        return modified

    def signed_url(self, key: str, *, expires_in: int, filename: str, content_type: str) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        url: str = self._signer().generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )
        return url

    def check(self) -> None:
        """Round-trip a probe object, at most once every ``CHECK_EVERY`` seconds: readiness
        probes come every few seconds from every replica, and each round trip is a billed
        write. Between round trips the last outcome is reported again."""
        with self._check_lock:
            last = self._last_check
            if last is not None and time.monotonic() - last[0] < CHECK_EVERY:
                if last[1] is not None:
                    raise StorageError(last[1])
                return
            try:
                self._round_trip()
            except StorageError as exc:
                self._last_check = (time.monotonic(), str(exc))
                raise
            self._last_check = (time.monotonic(), None)

    def _round_trip(self) -> None:
        key = ".health/probe"
        try:
            self.put(key, b"ok", "text/plain")
            if self.get(key) != b"ok":
                raise StorageError("read back different bytes")
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket!r} unreachable: {exc}") from exc
