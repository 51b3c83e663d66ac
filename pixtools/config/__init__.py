"""Settings, read from ``PIXTOOLS_*`` environment variables and validated at start.

Desktop and server mode differ only here: desktop fills in SQLite, Huey on SQLite and a
local folder under the data directory; server mode requires real service URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from limits import parse_many
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..ml.runtime import DenoiseConfig
from ..quality.search import SearchLimits
from .rules import (
    ADDRESS_HINTS,
    LOOPBACK_HOSTS,
    READY_CHECKS,
    WEBHOOK_SECRET_PREFIX,
    ConfigError,
    Network,
    check_secret_key,
    check_webhook_secret,
    default_data_dir,
    parse_networks,
)

__all__ = [
    "READY_CHECKS", "WEBHOOK_SECRET_PREFIX", "ConfigError", "Network", "Settings",
    "check_secret_key", "check_webhook_secret", "load_settings", "parse_networks",
]

class Settings(BaseSettings):
    """Every setting PixTools reads. Field ``x`` comes from ``PIXTOOLS_X``."""

    model_config = SettingsConfigDict(env_prefix="PIXTOOLS_", extra="ignore", frozen=True)

    mode: Literal["desktop", "server"] = "desktop"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    redis_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str = ""
    # Where browsers reach the store, when not at s3_endpoint_url (compose: the app talks to
    # http://minio:9000, a browser on the LAN to http://<host>:9000). Links are signed for it.
    s3_public_url: str = ""
    secret_key: str = ""
    queue_prefix: str = "pixtools"

    job_ttl_hours: float = Field(24.0, gt=0)
    # How long an expired job's row (not its files) stays for the history, then is purged.
    expired_retention_hours: float = Field(168.0, ge=0, le=24 * 365)
    signed_url_ttl_seconds: int = Field(900, ge=10, le=7 * 24 * 3600)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(64_000_000, ge=1)
    max_side: int = Field(30_000, ge=1)
    max_outputs: int = Field(8, ge=1, le=64)
    max_steps: int = Field(12, ge=1, le=64)
    max_frames: int = Field(300, ge=1, le=10_000)
    # Limits and backpressure: what one result may be, how fast one client may submit, and
    # how much queued work the service takes on before asking clients to come back later.
    max_output_side: int = Field(16_384, ge=1, le=100_000)
    max_output_pixels: int = Field(100_000_000, ge=1)
    submit_rate_limit: str = "120/minute"
    max_queued_standard: int = Field(2000, ge=1)
    max_queued_ml: int = Field(200, ge=1)
    busy_retry_after_seconds: int = Field(30, ge=1, le=3600)
    # Access: None means "required in server mode, off in desktop mode".
    api_keys_required: bool | None = None
    proxy_hops: int = Field(0, ge=0, le=5)
    # Who may use the page (and the API with its cookie): login (an API key, asked once),
    # proxy (a user header set by an authenticating proxy), open. None: login in server
    # mode, open in desktop mode.
    web_access: Literal["login", "proxy", "open"] | None = None
    proxy_user_header: str = "X-Forwarded-User"
    proxy_networks: str = "127.0.0.1/32,::1/128"
    session_max_age_hours: float = Field(720.0, gt=0, le=24 * 365)
    # Host names this instance answers to (host or host:port, comma-separated); empty: any
    # in server mode, loopback names in desktop mode.
    trusted_hosts: str = ""
    avif_speed: int = Field(8, ge=0, le=10)
    max_files_per_upload: int = Field(20, ge=1, le=500)
    # Requests that may wait for a job at once (``?wait=``), per web process: each holds a
    # thread, so keep it below gunicorn's threads (gunicorn.conf.py runs 8).
    max_waiters: int = Field(6, ge=0, le=1000)
    # Moves the clock the app uses to judge expiry; tests set it instead of waiting a day.
    clock_offset_seconds: float = Field(0.0, allow_inf_nan=False)

    # Quality auto and format auto (pixtools.quality): each output's search is bounded in
    # encodes (per format) and seconds (for all formats together); a score within
    # close_enough points above the target ends it; larger outputs are scored on crops.
    quality_max_encodes: int = Field(8, ge=2, le=30)
    quality_max_seconds: float = Field(30.0, gt=0, le=600)
    quality_close_enough: float = Field(0.5, ge=0, le=5)
    quality_max_scored_pixels: int = Field(2_000_000, ge=65_536, le=100_000_000)

    standard_workers: int = Field(2, ge=1, le=64)
    # Recovery: a running step holds a lease its worker renews; once it lapses the sweeper
    # puts the step back in line, up to step_max_attempts starts in all.
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    sweep_interval_seconds: int = Field(30, ge=1, le=60)
    step_max_attempts: int = Field(3, ge=1, le=20)
    # The time budget of one operation (and of encoding a result): past it the step fails.
    step_max_seconds: float = Field(900.0, gt=0, le=24 * 3600)
    dncnn_weights: Path = Path("models/dncnn_color_blind.pth")
    dncnn_precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    dncnn_threads: int = Field(0, ge=0, le=256)
    dncnn_tile: int = Field(512, ge=64, le=4096)
    # FFDNet (denoise's default model): unset paths mean the released names beside DnCNN's.
    ffdnet_weights: Path | None = None
    ffdnet_clip_weights: Path | None = None
    ffdnet_precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    ffdnet_tile: int = Field(1024, ge=64, le=4096)

    # Webhooks (pixtools.webhooks): where this instance is reached, timeouts, retries, breaker.
    public_url: str = ""
    webhook_secret: str = ""
    webhook_allow_private: str = ""
    webhook_connect_timeout_seconds: float = Field(3.0, gt=0, le=30)
    webhook_read_timeout_seconds: float = Field(10.0, gt=0, le=60)
    # The hard wall-clock deadline of one attempt: connect, headers and body together.
    webhook_timeout_seconds: float = Field(15.0, gt=0, le=300)
    webhook_workers: int = Field(4, ge=1, le=64)
    webhook_retry_window_hours: float = Field(24.0, gt=0, le=7 * 24)
    webhook_backoff_base_seconds: float = Field(10.0, gt=0, le=3600)
    webhook_backoff_max_seconds: float = Field(3600.0, gt=0, le=24 * 3600)
    webhook_backoff_jitter: float = Field(0.25, ge=0, le=1)
    webhook_breaker_threshold: int = Field(5, ge=1, le=1000)
    webhook_breaker_reset_seconds: float = Field(60.0, gt=0, le=24 * 3600)

    # Operations: logs, readiness, metrics, cleanup.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: readable lines when desktop mode writes to a terminal, JSON lines otherwise.
    log_format: Literal["auto", "json", "text"] = "auto"
    ready_timeout_seconds: float = Field(2.0, gt=0, le=30)
    ready_skip_checks: str = ""
    health_token: str = ""  # shows readiness details to a bearer of it (server mode)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"
    cleanup_interval_minutes: int = Field(15, ge=1, le=60)

    # Consumers' liveness: `pixtools worker` touches this file from its own loop while it is
    # alive (empty: no file). Images and manifests judge it (ops/docker/heartbeat-check.sh).
    worker_heartbeat_file: str = ""

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if value and not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("ready_skip_checks")
    @classmethod
    def _ready_skip_checks(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(READY_CHECKS))
        if unknown:
            raise ValueError(f"unknown check {unknown[0]!r}: choose from {', '.join(READY_CHECKS)}")
        return ",".join(names)

    @field_validator("submit_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            if not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise ValueError(
                "write a rate such as '120/minute' or '10/second;500/hour'"
            ) from None
        return value

    @field_validator("queue_prefix")
    @classmethod
    def _queue_prefix(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or not value.isascii():
            raise ValueError("use letters, digits or '_' (it becomes part of Redis key names)")
        return value

    @field_validator("public_url", "s3_public_url")
    @classmethod
    def _http_address(cls, value: str, info: ValidationInfo) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(ADDRESS_HINTS[info.field_name or ""])
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str) -> str:
        if value:
            check_webhook_secret(value)
        return value

    @field_validator("webhook_allow_private", "proxy_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("proxy_user_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c == "-" for c in value):
            raise ValueError("must be an HTTP header name such as X-Forwarded-User")
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
            try:
                check_secret_key(self.secret_key)
            except ValueError as exc:
                raise ValueError(f"PIXTOOLS_SECRET_KEY {exc}") from None
        return self

    # Derived values: desktop fills in what server mode must be told.

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pixtools.db'}"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "files").as_uri()

    @property
    def effective_api_keys_required(self) -> bool:
        if self.api_keys_required is None:
            return self.mode == "server"
        return self.api_keys_required

    @property
    def effective_web_access(self) -> str:
        if self.web_access is None:
            return "login" if self.mode == "server" else "open"
        return self.web_access

    @property
    def effective_trusted_hosts(self) -> tuple[str, ...]:
        """Allowed ``Host`` values (a name without a port allows any port); () allows all."""
        if self.trusted_hosts:
            return tuple(h.strip().lower() for h in self.trusted_hosts.split(",") if h.strip())
        return LOOPBACK_HOSTS if self.mode == "desktop" else ()

    @property
    def job_ttl_seconds(self) -> float:
        return self.job_ttl_hours * 3600

    @property
    def denoise_config(self) -> DenoiseConfig:
        return DenoiseConfig(weights=Path(self.dncnn_weights), precision=self.dncnn_precision,
                             threads=self.dncnn_threads, tile=self.dncnn_tile,
                             ffdnet_weights=self.ffdnet_weights,
                             ffdnet_clip_weights=self.ffdnet_clip_weights,
                             ffdnet_precision=self.ffdnet_precision, ffdnet_tile=self.ffdnet_tile)

    @property
    def search_limits(self) -> SearchLimits:
        return SearchLimits(max_encodes=self.quality_max_encodes,
                            max_seconds=self.quality_max_seconds,
                            close_enough=self.quality_close_enough,
                            max_scored_pixels=self.quality_max_scored_pixels)

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
