"""Final writes are fenced by the claim: a worker whose step was taken over (its lease
lapsed, the sweeper put the step back, another worker claimed it) cannot finish or fail it."""

from __future__ import annotations

import pytest

from pixtools import db, jobs
from pixtools.jobs import LeaseLost
from pixtools.models import Job, Step
from tests.support.webhooks import submit


def _take_over(app, step_id: int) -> None:
    """Another worker, in its own session: the step goes back in line and is claimed."""
    with app.app_context():
        step = db.db.session.get(Step, step_id)
        step.status = "queued"  # what the sweeper does when a lease lapses
        db.db.session.commit()
        assert jobs.claim_step(step_id).attempts == 2
        db.db.session.remove()


def test_a_stale_workers_final_write_is_refused(app, client):
    job_id = submit(client, None).get_json()["id"]
    step_id = db.db.session.get(Job, job_id).outputs[0].steps[0].id
    stale = jobs.claim_step(step_id)  # this worker: attempt 1
    assert stale.attempts == 1
    _take_over(app, step_id)

    output = stale.output
    with pytest.raises(LeaseLost, match="attempt 1 no longer holds it"):
        jobs.finish_output(output, key="jobs/x/output-0.png", fmt="png", size=(1, 1),
                           nbytes=1)
    with pytest.raises(LeaseLost):
        jobs.fail_step(stale, "too late", attempt=1)  # the attempt this worker claimed
    db.db.session.expire_all()
    fresh = db.db.session.get(Step, step_id)
    assert fresh.status == "running" and fresh.attempts == 2  # the new holder's, untouched
    assert fresh.output.status == "running" and fresh.output.result_key is None
    assert db.db.session.get(Job, job_id).status == "running"


def test_the_holder_of_the_claim_finishes_normally(app, client):
    job_id = submit(client, None).get_json()["id"]
    step_id = db.db.session.get(Job, job_id).outputs[0].steps[0].id
    held = jobs.claim_step(step_id)
    jobs.finish_output(held.output, key="jobs/x/output-0.png", fmt="png",
                       size=(1, 1), nbytes=1)
    db.db.session.expire_all()
    assert db.db.session.get(Job, job_id).status == "succeeded"
