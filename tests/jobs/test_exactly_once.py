"""Running twice is harmless: duplicate deliveries, exactly-once finalisation, lease fencing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.support.environment import wait_for
from tests.support.recovery import ago, job_of, pending_step_ids, post, run_step, set_step, steps_of


@pytest.fixture
def fast_app(desktop_config: dict[str, Any]) -> Any:
    """Desktop mode with a one-second lease, so a heartbeat is observable quickly."""
    from pixtools import create_app, db

    application = create_app({**desktop_config, "lease_seconds": 1})
    db.upgrade(application)
    with application.app_context():
        yield application
        db.db.session.remove()
        db.db.engine.dispose()


# --- harmless duplicates and exactly-once finalisation ---------------------------------


def test_a_duplicate_delivery_changes_nothing(app):
    from pixtools import jobs
    from pixtools.storage import get_storage

    job_id = post(app.test_client()).get_json()["id"]
    first = steps_of(job_id)[0]
    # While one worker holds the step, a second copy of the task finds it taken.
    held = jobs.claim_step(first.id)
    assert held is not None
    run_step(first.id)
    step = steps_of(job_id)[0]
    assert (step.status, step.attempts) == ("running", 1)
    set_step(first.id, status="queued", attempts=0, lease_expires_at=None)

    run_step(first.id)
    done = job_of(job_id)
    assert done.status == "succeeded"
    finished_at, keys = done.finished_at, sorted(get_storage(app).keys(f"jobs/{job_id}/"))
    # A late copy of the task after the job finished: the job stays as it is.
    run_step(first.id)
    again = job_of(job_id)
    assert (again.status, again.finished_at) == ("succeeded", finished_at)
    assert sorted(get_storage(app).keys(f"jobs/{job_id}/")) == keys
    assert keys == [f"jobs/{job_id}/output-0.png", f"jobs/{job_id}/source"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_step_delivered_after_its_job_ended_is_not_run(database, request):
    """The claim itself refuses a step whose job has ended (here: expired while the step
    waited in line), so nothing is decoded, stored or recorded for it."""
    from pixtools import jobs
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.storage import get_storage

    app = request.getfixturevalue("app" if database == "sqlite" else "server_app")
    job_id = post(app.test_client()).get_json()["id"]
    first = steps_of(job_id)[0]
    db.session.execute(update(Job).where(Job.id == job_id).values(status="expired"))
    db.session.commit()
    assert jobs.claim_step(first.id) is None
    run_step(first.id)
    step = steps_of(job_id)[0]
    assert (step.status, step.attempts, step.started_at) == ("queued", 0, None)
    assert job_of(job_id).status == "expired"
    assert sorted(get_storage(app).keys(f"jobs/{job_id}/")) == [f"jobs/{job_id}/source"]
    # The same step of a live job is claimed as before.
    db.session.execute(update(Job).where(Job.id == job_id).values(status="queued"))
    db.session.commit()
    claimed = jobs.claim_step(first.id)
    assert claimed is not None and claimed.attempts == 1 and claimed.output.job.id == job_id


def _finalise_concurrently(app: Any, job_id: str, callers: int) -> list[bool]:
    from pixtools import jobs

    barrier = threading.Barrier(callers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def finalise() -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(jobs.finalise(job_id))
            except BaseException as exc:  # reported below, with the test's failure
                errors.append(exc)

    threads = [threading.Thread(target=finalise) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_job_is_finalised_exactly_once(database, request):
    from pixtools.db import db
    from pixtools.models import Output

    app = request.getfixturevalue("app" if database == "sqlite" else "server_app")
    job_id = post(app.test_client()).get_json()["id"]
    db.session.execute(update(Output).where(Output.job_id == job_id).values(status="succeeded"))
    db.session.commit()

    results = _finalise_concurrently(app, job_id, callers=8)

    assert sorted(results) == [False] * 7 + [True]
    job = job_of(job_id)
    assert job.status == "succeeded" and job.finished_at is not None


TWO_OUTPUTS = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]},
                                       {"steps": [{"op": "convert", "format": "webp"}]}]})


def _finish_outputs_at_once(app: Any, job_id: str, step_ids: list[int]) -> None:
    from pixtools import jobs

    barrier = threading.Barrier(len(step_ids))
    errors: list[BaseException] = []

    def finish(step_id: int) -> None:
        with app.app_context():
            try:
                held = jobs.claim_step(step_id)
                barrier.wait()
                jobs.finish_output(held.output, key=f"jobs/{job_id}/{step_id}", fmt="png",
                                   size=(1, 1), nbytes=1)
            except BaseException as exc:  # reported below, with the test's failure
                errors.append(exc)

    threads = [threading.Thread(target=finish, args=(i,)) for i in step_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_outputs_ending_at_once_finish_their_job(database, request):
    """Each worker stores its output and finalises in one transaction; of two ending at
    once, the second to commit must see the first ended, or the job would stay running."""
    app = request.getfixturevalue("app" if database == "sqlite" else "server_app")
    for _ in range(6):
        job_id = post(app.test_client(), TWO_OUTPUTS).get_json()["id"]
        _finish_outputs_at_once(app, job_id, [step.id for step in steps_of(job_id)])
        job = job_of(job_id)
        assert job.status == "succeeded" and job.finished_at is not None
        assert [o.status for o in job.outputs] == ["succeeded", "succeeded"]


def test_concurrent_sweeps_requeue_a_lost_step_once(server_app):
    from pixtools import jobs
    from pixtools.queues import get_queues

    job_id = post(server_app.test_client()).get_json()["id"]
    first = steps_of(job_id)[0]
    get_queues(server_app).standard.flush()
    assert jobs.claim_step(first.id) is not None
    set_step(first.id, lease_expires_at=ago(1))
    barrier = threading.Barrier(4)
    requeued: list[int] = []

    def sweep() -> None:
        with server_app.app_context():
            barrier.wait()
            requeued.extend(jobs.sweep().requeued)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert requeued == [first.id]
    assert pending_step_ids(server_app) == [first.id]


# --- the lease keeper ----------------------------------------------------------------


def test_lease_is_renewed_while_the_step_runs_and_a_takeover_is_noticed(fast_app):
    from pixtools import jobs
    from pixtools.jobs import LeaseKeeper, LeaseLost

    job_id = post(fast_app.test_client()).get_json()["id"]
    step = jobs.claim_step(steps_of(job_id)[0].id)
    assert step is not None
    first_lease = step.lease_expires_at
    with LeaseKeeper(fast_app, step) as lease:
        wait_for(lambda: steps_of(job_id)[0].lease_expires_at > first_lease, timeout=20)
        lease.check()  # still ours
        # The sweeper gave the step to another worker (a new attempt).
        set_step(step.id, attempts=2)
        wait_for(lambda: lease.lost, timeout=20)
        with pytest.raises(LeaseLost):
            lease.check()


def test_a_worker_that_lost_its_lease_leaves_the_new_owners_state_alone(fast_app):
    from pixtools.models import utcnow

    recipe = json.dumps({"outputs": [{"steps": [
        {"op": "resize", "width": 1200, "upscale": True},
        {"op": "convert", "format": "avif", "speed": 3},  # seconds of work to be slow in
    ]}]})
    job_id = post(fast_app.test_client(), recipe).get_json()["id"]
    first = steps_of(job_id)[0]
    runner = threading.Thread(target=lambda: _run_in_context(fast_app, first.id))
    runner.start()
    wait_for(lambda: steps_of(job_id)[1].status == "running", timeout=60)
    # Another worker takes over the step (as the sweeper would after a long stall).
    taken = utcnow() + timedelta(hours=1)
    set_step(steps_of(job_id)[1].id, attempts=7, lease_expires_at=taken)
    runner.join(120)

    convert = steps_of(job_id)[1]
    assert (convert.status, convert.attempts) == ("running", 7)
    assert job_of(job_id).status == "running"


def _run_in_context(app: Any, step_id: int) -> None:
    with app.app_context():
        run_step(step_id)


