"""Settings, read from ``PIXTOOLS_*`` environment variables and validated at start.

Desktop and server mode differ only here: desktop fills in SQLite, Huey on SQLite and a
local folder under the data directory; server mode requires real service URLs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it and says what to do."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pixtools"


class Settings(BaseSettings):
    """Every setting PixTools reads. Field ``x`` comes from ``PIXTOOLS_X``."""

    model_config = SettingsConfigDict(env_prefix="PIXTOOLS_", extra="ignore", frozen=True)

    mode: Literal["desktop", "server"] = "desktop"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""
    redis_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str = ""
    secret_key: str = ""
    queue_prefix: str = "pixtools"

    job_ttl_hours: float = Field(24.0, gt=0)
    signed_url_ttl_seconds: int = Field(900, ge=10, le=7 * 24 * 3600)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(64_000_000, ge=1)
    max_side: int = Field(30_000, ge=1)
    max_outputs: int = Field(8, ge=1, le=64)
    max_steps: int = Field(12, ge=1, le=64)
    avif_speed: int = Field(8, ge=0, le=10)

    standard_workers: int = Field(2, ge=1, le=64)
    # Recovery: a running step holds a lease its worker renews; once it lapses the sweeper
    # puts the step back in line, up to step_max_attempts starts in all.
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    sweep_interval_seconds: int = Field(30, ge=1, le=60)
    step_max_attempts: int = Field(3, ge=1, le=20)
    dncnn_weights: Path = Path("models/dncnn_color_blind.pth")

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if value and not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        return value

    @field_validator("queue_prefix")
    @classmethod
    def _queue_prefix(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or not value.isascii():
            raise ValueError("use letters, digits or '_' (it becomes part of Redis key names)")
        return value

    @model_validator(mode="after")
    def _server_needs_services(self) -> Settings:
        if self.mode == "server":
            missing = [
                f"PIXTOOLS_{name.upper()}"
                for name in ("database_url", "redis_url", "storage_url", "secret_key")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"server mode needs {', '.join(missing)}")
        return self

    # Derived values: desktop fills in what server mode must be told.

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pixtools.db'}"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "files").as_uri()

    @property
    def job_ttl_seconds(self) -> float:
        return self.job_ttl_hours * 3600

    @classmethod
    def env_names(cls) -> set[str]:
        """The environment variable of every setting (used by deployment consistency checks)."""
        return {f"PIXTOOLS_{name.upper()}" for name in cls.model_fields}


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the environment, apply ``overrides`` (lower-case field names), validate."""
    try:
        return Settings(**dict(overrides or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"PIXTOOLS_{field.upper()}" if field else "settings"
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
