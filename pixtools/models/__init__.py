"""The tables, and the state machine their rows follow (``state``).

- ``jobs``: a job, its outputs, their steps, and dead letters;
- ``webhooks``: event deliveries (the outbox) with their attempts, disabled URLs, sandboxes;
- ``apikeys``: the keys scripts authenticate with;
- ``presets``: recipes saved by their owner.
"""

from .apikeys import ApiKey
from .jobs import DeadLetter, Job, Output, Step, UTCDateTime, new_job_id, utcnow
from .presets import Preset
from .state import (
    EXPIRED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    DeliveryStatus,
    IllegalTransition,
    Status,
)
from .webhooks import (
    DisabledWebhookURL,
    SandboxRequest,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSandbox,
)

__all__ = [
    "EXPIRED", "FAILED", "FINISHED", "QUEUED", "RUNNING", "SUCCEEDED", "ApiKey", "DeadLetter",
    "DeliveryStatus", "DisabledWebhookURL", "IllegalTransition", "Job", "Output",
    "Preset", "SandboxRequest", "Status", "Step", "UTCDateTime", "WebhookAttempt",
    "WebhookDelivery", "WebhookSandbox", "new_job_id", "utcnow",
]
