"""The job's public representation as pydantic models: what ``JobView.to_json`` returns,
field for field, for the OpenAPI document (``api.openapi``) and for the tests that hold
live answers to it.

Members that appear only sometimes (a finished output's ``format``, ``url``…) are optional
here and absent, never null, in the answer; ``extra="forbid"`` makes any member the models
do not name an error (``additionalProperties: false`` in the document).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..recipe import RecipeOptions

JobStatus = Literal["queued", "running", "succeeded", "failed", "expired"]
PartStatus = Literal["queued", "running", "succeeded", "failed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepJSON(Strict):
    """One step of an output, as the recipe asked for it and as far as it has run."""

    op: str = Field(description="The operation (GET /api/v1/operations lists them).")
    params: dict[str, Any] = Field(description="Its parameters, defaults filled in.")
    status: PartStatus
    progress: int = Field(ge=0, le=100, description="Percent done (denoise reports tiles).")
    error: str | None = Field(description="Why the step failed, else null.")


class DenoiseDetailsJSON(Strict):
    """What the denoise step did (``details.denoise``)."""

    model: Literal["ffdnet-clip", "ffdnet", "dncnn"] = Field(
        description="The network that ran: FFDNet's clipped-noise variant (8-bit images), "
                    "plain FFDNet (16-bit) or DnCNN-B.")
    noise_level: float = Field(ge=0, le=75, description="Noise sigma on the 0-255 scale: "
                               "FFDNet's setting (DnCNN is blind: the level is only read).")
    estimated: bool = Field(description="Whether the noise level was estimated from the "
                                        "image (noise_level auto) rather than given.")
    fallback: str | None = Field(None, description="Present when model auto wanted FFDNet "
                                 "but its weights were unusable, so DnCNN ran: why.")


class DetailsJSON(BaseModel):
    """More about an output: the operations' own reports (metadata, denoise), animation,
    the encoding search (auto), placeholder, notes."""

    model_config = ConfigDict(extra="allow")
    denoise: DenoiseDetailsJSON | None = Field(None, description="Present when a denoise "
                                               "step ran.")


class OutputJSON(Strict):
    """One output of the recipe. ``format`` to ``details`` appear once it has succeeded."""

    status: PartStatus
    error: str | None
    steps: list[StepJSON]
    format: str | None = Field(None, description="Present once succeeded: png, jpeg, webp…")
    width: int | None = Field(None, ge=1)
    height: int | None = Field(None, ge=1)
    bytes: int | None = Field(None, ge=0, description="Exactly the size of the download.")
    saving_percent: float | None = Field(
        None, description="Smaller than the upload by this much (negative: larger).")
    url: str | None = Field(None, description="A signed download link that expires.")
    details: DetailsJSON | None = Field(
        None, description="When there is more to say: metadata, animation, denoise, notes.")


class SourceJSON(Strict):
    """The upload."""

    name: str
    format: str
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    bytes: int = Field(ge=0)


class JobJSON(Strict):
    """A job: ``GET /api/v1/jobs/{job_id}``, and each entry of the list."""

    id: str = Field(description="22 URL-safe characters (128 random bits).")
    status: JobStatus
    created_at: AwareDatetime
    finished_at: AwareDatetime | None
    expires_at: AwareDatetime
    error: str | None = Field(description="Why the job failed, else null.")
    options: RecipeOptions
    source: SourceJSON
    outputs: list[OutputJSON]


class WebhookJSON(Strict):
    """The submission's webhook, shown to the submitter only."""

    url: str
    secret: str | None = Field(None, description="The whsec_ secret events are signed with.")
    sandbox: str | None = Field(None, description="The sandbox the URL belongs to, if any.")


class SubmittedJobJSON(JobJSON):
    """The answer to a submission: the job, and its webhook when one was given."""

    webhook: WebhookJSON | None = None


class JobPageJSON(Strict):
    """A page of the caller's jobs, newest first."""

    jobs: list[JobJSON]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page.")
