"""Response models of the API beside the job's own (``jobs.schema``): errors as RFC 9457
problem details, the operations catalogue, and webhook logs and sandboxes. They describe
exactly what the views answer; the OpenAPI document (``openapi``) is generated from them."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(Strict):
    """An error, as RFC 9457 problem details (``application/problem+json``). ``error``,
    ``message`` and ``field`` are extension members kept from the earlier error shape."""

    type: str = Field(description="tag:pixtools,2026:problems/<error>: the kind of error.",
                      json_schema_extra={"format": "uri"})
    title: str = Field(description="The kind of error in a few words.")
    status: int = Field(ge=400, le=599, description="The HTTP status.")
    detail: str = Field(description="What went wrong and what to do (= message).")
    instance: str = Field(description="The path the request was made to.")
    error: str = Field(description="A stable machine word: invalid_recipe, not_found…")
    message: str = Field(description="The same text as detail.")
    field: str | None = Field(None, description="The request field to blame, where there is "
                                                "one (outputs.0.steps.1.width, cursor…).")


class ParamJSON(Strict):
    """One parameter of an operation, as the page builds its controls from it."""

    name: str
    type: str = Field(description="integer, number, boolean, string or choice.")
    required: bool
    default: Any = Field(description="The value used when the parameter is left out.")
    description: str
    choices: list[Any] | None = Field(None, description="The allowed values of a choice.")
    keywords: list[Any] | None = Field(
        None, description="Words accepted instead of a value of the type, e.g. auto.")
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = Field(None, description="A hint such as color.")


class OperationJSON(Strict):
    name: str
    summary: str
    queue: str = Field(description="standard (Pillow) or ml (PyTorch).")
    params: list[ParamJSON]


class CatalogueJSON(Strict):
    """``GET /api/v1/operations``: every operation and the recipe's options."""

    operations: list[OperationJSON]
    recipe_options: list[ParamJSON]


class AttemptJSON(Strict):
    number: int
    at: AwareDatetime | None
    outcome: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    next_attempt_at: AwareDatetime | None


class DeliveryJSON(Strict):
    """One event's delivery to the job's webhook, with every attempt."""

    id: str
    event: str = Field(description="job.succeeded or job.failed.")
    url: str
    status: str = Field(description="pending, sending, delivered, failed, dead or disabled.")
    attempts: int
    created_at: AwareDatetime | None
    next_attempt_at: AwareDatetime | None
    finished_at: AwareDatetime | None
    last_status_code: int | None
    last_error: str | None
    history: list[AttemptJSON]


class WebhookLogJSON(Strict):
    """``GET /api/v1/jobs/{job_id}/webhook``."""

    url: str | None
    deliveries: list[DeliveryJSON]


class SandboxRequestJSON(Strict):
    received_at: AwareDatetime
    method: str
    headers: dict[str, Any]
    body: str
    verification: str = Field(description="Whether the Standard Webhooks signature checked.")
    detail: str


class SandboxJSON(Strict):
    """A webhook receiver on this instance, and (when read) what it received."""

    id: str
    url: str = Field(description="Give this as webhook_url.")
    page: str = Field(description="The sandbox's page in the browser.")
    created_at: AwareDatetime
    expires_at: AwareDatetime
    secret: str = Field(description="The whsec_ secret to check signatures with.")
    requests: list[SandboxRequestJSON] | None = Field(None, description="Newest first.")
