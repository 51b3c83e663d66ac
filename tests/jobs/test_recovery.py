"""The sweeper: lapsed leases, steps that never reached or left their queue, late finishes.

Worker deaths are staged by putting rows in the state a dead worker leaves behind (a
running step whose lease lapsed, a step that never reached its queue); the recovery then
runs for real: the sweep, the queue, and the step pipeline executing in this process.
The chaos tests (``test_chaos.py``) do the same with real processes killed for real.
"""

from __future__ import annotations

import datetime

from sqlalchemy import select, update

from tests.support.environment import settings_from_env, wait_for
from tests.support.recovery import ago, job_of, pending_step_ids, post, run_step, set_step, steps_of

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
        handoff = f"jobs/{job_id}/output-0-after-step-0.png"
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


# --- the periodic sweeper ------------------------------------------------------------


def test_sweeper_is_a_periodic_task_of_the_standard_queue(app):
    from pixtools.queues import get_queues

    queues = get_queues(app)
    # At the top of an hour every periodic task is due (some run only every 15 minutes).
    top_of_hour = datetime.datetime(2026, 1, 1, 0, 0)
    names = sorted(t.name for t in queues.standard.read_periodic(top_of_hour))
    assert names == ["cleanup", "sweep_jobs", "sweep_webhooks"]
    assert queues.ml.read_periodic(top_of_hour) == []


def test_sweep_ticker_recovers_lost_work_every_interval(desktop_config):
    from pixtools import create_app, db, jobs
    from pixtools.tasks.periodic import SweepTicker

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
