"""Jobs: made, run, finished, redriven, expired. Every change of a job's state happens in
this package, by the moves ``models.state`` allows, and nowhere else.

Rows are committed before anything is enqueued, and workers receive ids only, so the
database is always the truth about a job.

- ``creation``: the one way a job is made (``prepare`` then ``create``), for every entry point;
- ``rows``: reading jobs and steps; a conditional UPDATE and enqueue-after-commit;
- ``steps``: what workers record while they run a job, up to its one finalisation;
- ``writes``: the one conditional UPDATE of a loaded row that the workers' writes use;
- ``leases`` and ``sweep``: held steps, and lost work found and put back in line;
- ``redrive``: lost or failed work put back in line (the sweeper, an operator's retry);
- ``expiry``: deleted by the owner, or expired and cleaned up;
- ``public``: the one representation of a job, for the API, the page, webhooks and the CLI.
"""

from .creation import Order, Upload, again, check_capacity, create, prepare, recipe_of
from .expiry import cleanup, delete, expire, refuse_expired_key, refuse_if_expired
from .leases import LeaseKeeper, LeaseLost
from .public import JobView, Links, event_body, links, view
from .redrive import give_up, requeue_lost, restart_point, retry
from .rows import (
    batch_for_owner,
    get_for_owner,
    handoff_key,
    list_for_owner,
    load_step,
    page_for_owner,
    result_key,
    source_key,
    status_for_owner,
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
from .sweep import SweepReport, dead_letters, describe, sweep

__all__ = [
    "JobView", "LeaseKeeper", "LeaseLost", "Links", "Order", "SweepReport", "Upload",
    "again", "batch_for_owner", "check_capacity", "claim_step", "cleanup", "create",
    "dead_letters", "delete", "describe",
    "event_body", "expire", "fail_step", "finalise", "finish_output", "finish_step",
    "get_for_owner", "give_up", "hand_over", "handoff_key", "links", "list_for_owner",
    "load_step", "page_for_owner", "prepare", "recipe_of", "refuse_expired_key",
    "refuse_if_expired", "renew_lease", "report_progress",
    "requeue_lost", "restart_point",
    "result_key", "retry", "source_key", "start_step", "status_for_owner", "sweep", "view",
]
