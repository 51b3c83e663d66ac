"""Leases, the sweeper and exactly-once finalisation, on real databases and queues.

Worker deaths are staged by putting rows in the state a dead worker leaves behind (a
running step whose lease lapsed, a step that never reached its queue); the recovery then
runs for real: the sweep, the queue, and the step pipeline executing in this process.
The chaos tests (``test_chaos.py``) do the same with real processes killed for real.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import make_image, settings_from_env, wait_for

TWO_STEPS = json.dumps(
    {"outputs": [{"steps": [{"op": "resize", "width": 32}, {"op": "convert", "format": "png"}]}]}
)


def post(client: Any, recipe: str = TWO_STEPS, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((64, 48))), "photo.jpg"), "recipe": recipe},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def steps_of(job_id: str) -> list[Any]:
    from pixtools.db import db
    from pixtools.models import Output, Step

    db.session.expire_all()
    return list(db.session.execute(
        select(Step).join(Output).where(Output.job_id == job_id)
        .order_by(Output.position, Step.position)
    ).scalars())


def job_of(job_id: str) -> Any:
    from pixtools.db import db
    from pixtools.models import Job

    db.session.expire_all()
    return db.session.get(Job, job_id)


def set_step(step_id: int, **values: Any) -> None:
    """Put a step row in the state a worker left it in (the test's stand-in for a crash)."""
    from pixtools.db import db
    from pixtools.models import Step

    db.session.execute(update(Step).where(Step.id == step_id).values(**values))
    db.session.commit()


def ago(seconds: float) -> Any:
    from pixtools.models import utcnow

    return utcnow() - timedelta(seconds=seconds)


def pending_step_ids(app: Any, queue: str = "standard") -> list[int]:
    from pixtools.queues import get_queues

    return [t.args[0] for t in get_queues(app).by_name(queue).pending() if t.name == "run_steps"]


def run_step(step_id: int) -> None:
    """What a consumer does with the task: run it here, in this process."""
    from pixtools.tasks.pipeline import run_steps

    run_steps(step_id)


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


# --- submit with the queue down ------------------------------------------------------


def test_job_accepted_while_redis_is_down_runs_once_it_is_back(server_app, server_env,
                                                               private_redis):
    from pixtools import create_app, jobs

    # The queue's Redis is not running yet: the API must still accept the job.
    app = create_app({**settings_from_env(server_env), "redis_url": private_redis.url})
    with app.app_context():
        response = post(app.test_client())
        assert response.status_code == 202, response.get_json()
        job_id = response.get_json()["id"]
        first = steps_of(job_id)[0]
        assert first.enqueued_at is None and first.status == "queued"

        # Within the grace period the submitter might still be enqueueing: no sweep yet.
        assert not jobs.sweep().requeued
        # Later, with Redis still down, the sweep finds the queue unreachable and waits.
        from pixtools.db import db
        from pixtools.models import Job

        db.session.execute(update(Job).where(Job.id == job_id).values(created_at=ago(300)))
        db.session.commit()
        assert not jobs.sweep().requeued
        assert steps_of(job_id)[0].enqueued_at is None

        private_redis.start()
        report = jobs.sweep()
        assert report.requeued == [first.id]
        assert steps_of(job_id)[0].enqueued_at is not None
        assert pending_step_ids(app) == [first.id]
        # Another sweep does not enqueue it twice while it waits its turn.
        set_step(first.id, enqueued_at=ago(300))
        assert not jobs.sweep().requeued
        assert pending_step_ids(app) == [first.id]

        run_step(first.id)
        job = job_of(job_id)
        assert job.status == "succeeded", job.error
        assert [s.attempts for s in steps_of(job_id)] == [1, 1]


def test_hand_over_to_an_unreachable_queue_is_picked_up_by_the_sweeper(server_app, server_env,
                                                                         private_redis):
    from pixtools import create_app, jobs
    from pixtools.db import db
    from pixtools.models import Output
    from pixtools.storage import get_storage

    app = create_app({**settings_from_env(server_env), "redis_url": private_redis.url})
    with app.app_context():
        job_id = post(app.test_client()).get_json()["id"]  # Redis down: not enqueued
        resize, convert = steps_of(job_id)
        # Put resize on the other queue, as an ml step before a standard one would be: its
        # image is handed over through storage.
        set_step(resize.id, queue="ml")
        run_step(resize.id)
        resize, convert = steps_of(job_id)
        assert resize.status == "succeeded" and convert.status == "queued"
        assert convert.enqueued_at is None  # the hand-over could not reach Redis
        handoff = f"jobs/{job_id}/outputs/0/after-step-0.png"
        assert handoff in set(get_storage(app).keys(f"jobs/{job_id}/"))

        assert not jobs.sweep()  # just handed over: its worker may still be enqueueing
        set_step(resize.id, finished_at=ago(300))
        assert not jobs.sweep()  # Redis still down
        private_redis.start()
        # It resumes at convert: the resized image is in storage, resize is not redone.
        assert jobs.sweep().requeued == [convert.id]
        assert pending_step_ids(app) == [convert.id]

        # Its worker dies in turn: still from convert, never back across the hand-over.
        assert jobs.claim_step(convert.id) is not None
        set_step(convert.id, lease_expires_at=ago(1))
        assert jobs.sweep().requeued == [convert.id]
        run_step(convert.id)
        job = job_of(job_id)
        assert job.status == "succeeded", job.error
        assert [(s.status, s.attempts) for s in steps_of(job_id)] == [("succeeded", 1),
                                                                      ("succeeded", 2)]
        assert db.session.execute(select(Output.width)).scalar_one() == 32


# --- lapsed leases -------------------------------------------------------------------


def test_lapsed_lease_requeues_the_run_from_its_first_step(app):
    from pixtools import jobs

    job_id = post(app.test_client()).get_json()["id"]
    resize, convert = steps_of(job_id)
    # A worker took the task, finished resize (kept in memory), started convert, and died.
    claimed = jobs.claim_step(resize.id)
    assert claimed is not None and claimed.attempts == 1
    jobs.finish_step(claimed)
    jobs.start_step(steps_of(job_id)[1])
    assert not jobs.sweep()  # its lease is still live
    set_step(convert.id, lease_expires_at=ago(1))

    report = jobs.sweep()

    # The resized image died with the worker, so the run starts again at resize.
    assert report.requeued == [resize.id]
    resize, convert = steps_of(job_id)
    assert (resize.status, convert.status) == ("queued", "queued")
    assert (resize.attempts, convert.attempts) == (1, 1)
    assert resize.enqueued_at is not None and resize.lease_expires_at is None
    assert resize.id in pending_step_ids(app)
    run_step(resize.id)
    assert job_of(job_id).status == "succeeded"
    assert [s.attempts for s in steps_of(job_id)] == [2, 2]


def test_live_leases_and_waiting_steps_are_left_alone(app):
    from pixtools import jobs

    client = app.test_client()
    running_id, waiting_id = post(client).get_json()["id"], post(client).get_json()["id"]
    running = jobs.claim_step(steps_of(running_id)[0].id)
    assert running is not None
    waiting = steps_of(waiting_id)[0]
    # Queued long ago but still in the queue: a long queue, not a lost task.
    set_step(waiting.id, enqueued_at=ago(3600))

    assert not jobs.sweep()
    assert steps_of(running_id)[0].status == "running"
    assert pending_step_ids(app).count(waiting.id) == 1


def test_step_gone_from_its_queue_is_enqueued_again(app):
    from pixtools import jobs
    from pixtools.queues import get_queues

    job_id = post(app.test_client()).get_json()["id"]
    first = steps_of(job_id)[0]
    # The queue lost the task (a worker took it and died before claiming it, or Redis
    # restarted without its data).
    get_queues(app).standard.flush()
    assert not jobs.sweep()  # recently enqueued: too early to call it lost
    set_step(first.id, enqueued_at=ago(120))

    assert jobs.sweep().requeued == [first.id]
    assert pending_step_ids(app) == [first.id]
    run_step(first.id)
    assert job_of(job_id).status == "succeeded"


def test_step_that_keeps_killing_its_worker_fails_with_retried_n_times(app):
    from pixtools import jobs
    from pixtools.db import db
    from pixtools.models import DeadLetter

    job_id = post(app.test_client()).get_json()["id"]
    first = steps_of(job_id)[0]
    assert jobs.claim_step(first.id) is not None
    set_step(first.id, attempts=3, lease_expires_at=ago(5))  # the third start died too

    report = jobs.sweep()

    assert report.failed == [first.id] and not report.requeued
    job = job_of(job_id)
    assert job.status == "failed"
    assert "retried 2 times" in job.error and "killed, crashed or out of memory" in job.error
    assert [s.status for s in steps_of(job_id)] == ["failed", "failed"]
    letter = db.session.execute(select(DeadLetter)).scalar_one()
    assert (letter.job_id, letter.step_id, letter.attempts) == (job_id, first.id, 3)
    assert "retried 2 times" in letter.error and letter.traceback is None
    assert not jobs.sweep()  # a failed job is final


def test_sweeper_finalises_a_job_whose_worker_died_before_finalising(app):
    from pixtools import jobs
    from pixtools.db import db
    from pixtools.models import Job, Output

    job_id = post(app.test_client()).get_json()["id"]
    run_step(steps_of(job_id)[0].id)
    # Roll the job back to "running": as if the worker died between storing the last
    # output and finalising the job.
    db.session.execute(update(Job).where(Job.id == job_id).values(status="running",
                                                                  finished_at=None))
    db.session.commit()
    assert db.session.execute(select(Output.status)).scalar_one() == "succeeded"

    assert jobs.sweep().finalised == [job_id]
    assert job_of(job_id).status == "succeeded"
    assert not jobs.sweep()


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
    assert keys == [f"jobs/{job_id}/outputs/0/result.png", f"jobs/{job_id}/source"]


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
    from pixtools.recovery import LeaseKeeper, LeaseLost

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


# --- the periodic sweeper ------------------------------------------------------------


def test_sweeper_is_a_periodic_task_of_the_standard_queue(app):
    from pixtools.queues import get_queues

    queues = get_queues(app)
    assert [t.name for t in queues.standard.read_periodic(None)] == ["sweep_jobs"]
    assert queues.ml.read_periodic(None) == []


def test_sweep_ticker_recovers_lost_work_every_interval(desktop_config):
    from pixtools import create_app, db, jobs
    from pixtools.recovery import SweepTicker

    app = create_app({**desktop_config, "sweep_interval_seconds": 1})
    db.upgrade(app)
    with app.app_context():
        job_id = post(app.test_client()).get_json()["id"]
        first = steps_of(job_id)[0]
        assert jobs.claim_step(first.id) is not None
        set_step(first.id, lease_expires_at=ago(1))  # its worker died
        ticker = SweepTicker(app)
        ticker.start()
        try:
            wait_for(lambda: steps_of(job_id)[0].status == "queued", timeout=30)
        finally:
            ticker.stop()
        assert first.id in pending_step_ids(app)
        db.db.session.remove()
        db.db.engine.dispose()
