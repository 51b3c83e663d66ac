"""Chaos: kill real consumers with SIGKILL and stop Redis mid-batch; no accepted job is lost.

Each test runs real ``pixtools worker`` processes against PostgreSQL, Redis and moto's S3,
with a two-second lease and a one-second sweep so that recovery takes seconds. Each prints
jobs submitted / succeeded / lost; lost must be 0, and no output may exist twice.
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections.abc import Callable
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from tests.support.environment import settings_from_env, wait_for
from tests.support.images import make_image
from tests.support.processes import Process

# Short leases and sweeps; more attempts than kills, so a step hit by every kill still
# recovers instead of failing with "retried N times".
CHAOS = {
    "PIXTOOLS_LEASE_SECONDS": "2",
    "PIXTOOLS_SWEEP_INTERVAL_SECONDS": "1",
    "PIXTOOLS_STEP_MAX_ATTEMPTS": "8",
}
# A few tenths of a second per job (download, decode, resize, AVIF, upload), so that a
# worker killed while a step runs is killed in the middle of it.
BATCH_RECIPE = json.dumps({"outputs": [
    {"steps": [{"op": "resize", "width": 640}, {"op": "convert", "format": "avif", "speed": 6}]},
    {"steps": [{"op": "convert", "format": "webp"}]},
]})
BATCH_RESULTS = {0: ("output-0.avif", "AVIF", (640, 480)),
                 1: ("output-1.webp", "WEBP", (1200, 900))}
SOURCE = make_image((1200, 900))


def submit(client: Any, recipe: str = BATCH_RECIPE, data: bytes = SOURCE) -> str:
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(data), "chaos.jpg"), "recipe": recipe},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


class Watch:
    """Polls the database for the batch and remembers every status each job went through."""

    def __init__(self, job_ids: list[str]) -> None:
        self.job_ids = job_ids
        self.history: dict[str, list[str]] = {job_id: [] for job_id in job_ids}

    def statuses(self) -> dict[str, str]:
        from pixtools.db import db
        from pixtools.models import Job

        rows = db.session.execute(select(Job.id, Job.status).where(Job.id.in_(self.job_ids)))
        current = {job_id: status for job_id, status in rows}
        db.session.commit()
        for job_id, status in current.items():
            if not self.history[job_id] or self.history[job_id][-1] != status:
                self.history[job_id].append(status)
        return current

    def all_finished(self) -> bool:
        return all(s in ("succeeded", "failed") for s in self.statuses().values())

    def running_since(self, since: float, min_progress: int = 0) -> bool:
        """Is a step running that a worker started after ``since`` (a ``time.time()``) and
        that reported at least ``min_progress`` percent?"""
        from pixtools.db import db
        from pixtools.models import Output, Step

        started = db.session.execute(
            select(func.max(Step.started_at)).join(Output)
            .where(Output.job_id.in_(self.job_ids), Step.status == "running",
                   Step.progress >= min_progress)
        ).scalar_one()
        db.session.commit()
        self.statuses()
        return started is not None and started.timestamp() > since


def report(name: str, watch: Watch, capsys: Any, extra: str = "") -> tuple[int, int]:
    statuses = watch.statuses()
    submitted = len(watch.job_ids)
    succeeded = sum(1 for s in statuses.values() if s == "succeeded")
    with capsys.disabled():
        print(f"\n[chaos] {name}: submitted={submitted} succeeded={succeeded} "
              f"lost={submitted - succeeded}{extra}")
    return submitted, succeeded


def check_results(app: Any, job_id: str, expected: dict[int, tuple[str, str, tuple[int, int]]],
                  extra_keys: tuple[str, ...] = ()) -> None:
    """Exactly the expected objects exist (nothing duplicated), each a valid image."""
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.storage import get_storage

    storage = get_storage(app)
    db.session.expire_all()  # the consumers changed these rows since this session read them
    job = db.session.get(Job, job_id)
    keys = set(storage.keys(f"jobs/{job_id}/"))
    wanted = {f"jobs/{job_id}/source"} | {f"jobs/{job_id}/{name}"
                                          for n, (name, _, _) in expected.items()}
    assert keys == wanted | {f"jobs/{job_id}/{k}" for k in extra_keys}, keys
    for output in job.outputs:
        name, fmt, size = expected[output.position]
        assert output.result_key == f"jobs/{job_id}/{name}"
        data = storage.get(output.result_key)
        assert len(data) == output.bytes
        image = Image.open(io.BytesIO(data))
        image.load()
        assert (image.format, image.size) == (fmt, size)
    db.session.commit()


def restarted_steps(job_ids: list[str]) -> int:
    """How many step starts were repeats (a worker died while running them)."""
    from pixtools.db import db
    from pixtools.models import Output, Step

    total = db.session.execute(
        select(func.coalesce(func.sum(Step.attempts - 1), 0)).join(Output)
        .where(Output.job_id.in_(job_ids))
    ).scalar_one()
    db.session.commit()
    return int(total)


def dead_letter_count() -> int:
    from pixtools.db import db
    from pixtools.models import DeadLetter

    count = db.session.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
    db.session.commit()
    return int(count)


def never_left_a_final_state(watch: Watch) -> None:
    for job_id, seen in watch.history.items():
        if "succeeded" in seen:
            assert seen[-1] == "succeeded" and seen.count("succeeded") == 1, (job_id, seen)


def explain(processes: list[Process]) -> Callable[[], str]:
    return lambda: "\n\n".join(p.output()[-4000:] for p in processes)


def test_kill_9_the_standard_consumer_during_a_batch(server_app, server_env, spawn, capsys):
    env = {**server_env, **CHAOS}
    workers = [spawn("worker", "standard", env=env)]
    client = server_app.test_client()
    watch = Watch([submit(client) for _ in range(6)])

    kills = 0
    for _ in range(3):
        started = time.time()
        try:
            wait_for(lambda s=started: watch.running_since(s), timeout=120, interval=0.05)
        except AssertionError:
            raise AssertionError(explain(workers)()) from None
        workers[-1].proc.send_signal(signal.SIGKILL)
        workers[-1].proc.wait()
        kills += 1
        if watch.all_finished():
            break
        workers.append(spawn("worker", "standard", env=env))

    try:
        wait_for(watch.all_finished, timeout=240, interval=0.25)
    except AssertionError:
        raise AssertionError(explain(workers)()) from None
    repeats = restarted_steps(watch.job_ids)
    submitted, succeeded = report("kill -9 standard consumer", watch, capsys,
                                  f" kills={kills} restarted_steps={repeats}")
    assert succeeded == submitted, watch.statuses()
    assert kills == 3
    assert repeats >= 1  # the kills did interrupt running steps
    assert dead_letter_count() == 0
    never_left_a_final_state(watch)
    for job_id in watch.job_ids:
        check_results(server_app, job_id, BATCH_RESULTS)


def test_kill_9_the_ml_consumer_mid_denoise(torch_available, server_app, server_env, spawn,
                                            capsys, weights_path):
    # Small tiles: progress is reported early and often, so the kill lands mid-step.
    env = {**server_env, **CHAOS, "PIXTOOLS_DNCNN_WEIGHTS": str(weights_path),
           "PIXTOOLS_DNCNN_TILE": "128"}
    standard = spawn("worker", "standard", env=env)
    ml = [spawn("worker", "ml", env=env)]
    recipe = json.dumps({"outputs": [{"steps": [{"op": "denoise"},
                                                {"op": "convert", "format": "webp"}]}]})
    watch = Watch([submit(server_app.test_client(), recipe, make_image((1200, 900)))])

    started = time.time()
    try:
        # Killed mid-denoise: it has reported progress (after its first tiles) and runs on.
        wait_for(lambda: watch.running_since(started, min_progress=1), timeout=240,
                 interval=0.05)
    except AssertionError:
        raise AssertionError(explain([standard, *ml])()) from None
    ml[0].proc.send_signal(signal.SIGKILL)
    ml[0].proc.wait()
    ml.append(spawn("worker", "ml", env=env))

    try:
        wait_for(watch.all_finished, timeout=300, interval=0.25)
    except AssertionError:
        raise AssertionError(explain([standard, *ml])()) from None
    submitted, succeeded = report("kill -9 ml consumer mid-denoise", watch, capsys)
    assert succeeded == submitted == 1, watch.statuses()
    from pixtools.db import db
    from pixtools.models import Job

    db.session.expire_all()  # the consumers changed these rows since this session read them
    job = db.session.get(Job, watch.job_ids[0])
    denoise, convert = job.outputs[0].steps
    assert (denoise.attempts, convert.attempts) == (2, 1)
    check_results(server_app, job.id, {0: ("output-0.webp", "WEBP", (1200, 900))},
                  extra_keys=("output-0-after-step-0.png",))


def test_redis_stopped_during_submission(server_app, server_env, spawn, private_redis,
                                         capsys):
    from pixtools import create_app

    private_redis.start()
    env = {**server_env, **CHAOS, "PIXTOOLS_REDIS_URL": private_redis.url}
    worker = spawn("worker", "standard", env=env)
    api = create_app(settings_from_env(env))  # the web app, on the same private Redis
    client = api.test_client()
    with api.app_context():
        job_ids = [submit(client) for _ in range(3)]
        private_redis.kill()  # Redis dies with whatever it held: no persistence
        job_ids += [submit(client) for _ in range(3)]  # still 202: committed, not enqueued
        private_redis.start()
        watch = Watch(job_ids)
        try:
            wait_for(watch.all_finished, timeout=240, interval=0.25)
        except AssertionError:
            raise AssertionError(explain([worker])()) from None
        submitted, succeeded = report("redis stopped during submission", watch, capsys)
        assert succeeded == submitted == 6, watch.statuses()
        assert worker.proc.poll() is None  # the consumer rode out the outage
        assert dead_letter_count() == 0
        never_left_a_final_state(watch)
        for job_id in job_ids:
            check_results(api, job_id, BATCH_RESULTS)


def test_sigint_lets_the_running_step_finish_before_the_consumer_exits(server_app, server_env,
                                                                       spawn):
    # Default lease (a minute): the job can only succeed in time if the step really finished
    # before the consumer exited, not through the sweeper.
    worker = spawn("worker", "standard", env=server_env)
    slow = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "avif", "speed": 4}]}]})
    watch = Watch([submit(server_app.test_client(), slow)])
    started = time.time() - 1
    wait_for(lambda: watch.running_since(started), timeout=120, interval=0.05)

    code = worker.stop(signal.SIGINT, timeout=180)

    assert code == 0, worker.output()[-4000:]
    assert "Shutting down gracefully" in worker.output()
    assert watch.statuses() == {watch.job_ids[0]: "succeeded"}
    assert restarted_steps(watch.job_ids) == 0
    check_results(server_app, watch.job_ids[0], {0: ("output-0.avif", "AVIF", (1200, 900))})
