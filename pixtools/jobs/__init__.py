"""Every change of a job's state happens in this package, and nowhere else.

Rows are committed before anything is enqueued, and workers receive ids only, so the
database is always the truth about a job.

- ``rows``: reading jobs and steps; a conditional UPDATE and enqueue-after-commit;
- ``submission``: submitted, expired, deleted (the web and cleanup side);
- ``steps``: what workers record while they run a job, up to its one finalisation;
- ``redrive``: lost or failed work put back in line (the sweeper, an operator's retry).
"""

from .redrive import give_up, requeue_lost, restart_point, retry, sweep
from .rows import (
    get_for_owner,
    handoff_key,
    list_for_owner,
    load_step,
    result_key,
    source_key,
)
from .steps import (
    claim_step,
    fail_step,
    finalise,
    finish_output,
    finish_step,
    hand_over,
    renew_lease,
    report_progress,
    start_step,
)
from .submission import delete, expire, release_idempotency_key, submit

__all__ = [
    "claim_step", "delete", "expire", "fail_step", "finalise", "finish_output", "finish_step",
    "get_for_owner", "give_up", "hand_over", "handoff_key", "list_for_owner", "load_step",
    "release_idempotency_key", "renew_lease", "report_progress", "requeue_lost", "restart_point",
    "result_key", "retry", "source_key", "start_step", "submit", "sweep",
]
