"""`pixtools worker`'s heartbeat file, with real consumer processes.

It appears once the consumer is ready, is touched at least every 10 s from the consumer's own
loop (so through a Redis outage and a long denoise), and goes stale only when the consumer
is stuck (here: stopped with SIGSTOP) or gone.
"""

from __future__ import annotations

import io
import itertools
import json
import signal
import tempfile
import time
from pathlib import Path

import requests

from tests.support.environment import free_port, settings_from_env, wait_for
from tests.support.images import make_image

# The promise to the images' health check (ops/docker/heartbeat-check.sh, stale after 30 s).
MAX_GAP_SECONDS = 10.0


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def beats(path: Path, seconds: float, while_true=lambda: True) -> list[float]:
    """The distinct modification times ``path`` shows over ``seconds`` (or until
    ``while_true()`` turns false), sampled five times a second."""
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and while_true():
        stamp = mtime(path)
        if stamp is not None and (not seen or stamp != seen[-1]):
            seen.append(stamp)
        time.sleep(0.2)
    return seen


def heartbeat_env(env: dict[str, str], path: Path) -> dict[str, str]:
    return {**env, "PIXTOOLS_WORKER_HEARTBEAT_FILE": str(path)}


def test_heartbeat_goes_on_through_a_redis_outage_and_stops_when_the_consumer_is_stuck(
        server_app, server_env, spawn, private_redis, tmp_path):
    private_redis.start()
    file = tmp_path / "run" / "worker.heartbeat"
    env = heartbeat_env({**server_env, "PIXTOOLS_REDIS_URL": private_redis.url}, file)
    worker = spawn("worker", "standard", "--no-periodic", env=env)
    wait_for(lambda: file.exists() or worker.proc.poll() is not None, timeout=60)
    assert worker.proc.poll() is None, worker.output()

    healthy = beats(file, 11)
    assert len(healthy) >= 2, healthy

    private_redis.kill()  # the queue's Redis is gone: the workers' reads fail and back off
    outage = beats(file, 16)
    assert len(outage) >= 3, (outage, worker.output()[-2000:])
    assert max(b - a for a, b in itertools.pairwise(outage)) <= MAX_GAP_SECONDS
    assert "Error reading from queue" in worker.output()  # the outage was felt
    assert worker.proc.poll() is None

    worker.proc.send_signal(signal.SIGSTOP)  # stuck: nothing in the process runs
    try:
        frozen = beats(file, 12)
        assert len(frozen) == 1, frozen
        assert time.time() - frozen[0] > MAX_GAP_SECONDS
    finally:
        worker.proc.send_signal(signal.SIGCONT)
    private_redis.start()
    assert len(beats(file, 11)) >= 2  # alive again, beating again

    assert worker.stop() == 0
    assert not file.exists()  # gone with the consumer: nothing stale says it is alive


def test_heartbeat_goes_on_while_the_ml_consumer_runs_a_long_denoise(
        torch_available, server_app, server_env, spawn, weights_path, tmp_path):
    from pixtools import create_app
    from pixtools.db import db
    from pixtools.models import Output, Step

    file = tmp_path / "ml.heartbeat"
    # One thread and small tiles: a denoise of many seconds, reporting progress as it goes.
    env = heartbeat_env({**server_env, "PIXTOOLS_DNCNN_WEIGHTS": str(weights_path),
                         "PIXTOOLS_DNCNN_THREADS": "1", "PIXTOOLS_DNCNN_TILE": "128"}, file)
    worker = spawn("worker", "ml", env=env)
    wait_for(lambda: file.exists() or worker.proc.poll() is not None, timeout=120)
    assert worker.proc.poll() is None, worker.output()

    api = create_app(settings_from_env(env))
    recipe = json.dumps({"outputs": [{"steps": [{"op": "denoise", "model": "dncnn"}]}]})
    with api.app_context():
        response = api.test_client().post(
            "/api/v1/jobs", content_type="multipart/form-data",
            data={"file": (io.BytesIO(make_image((800, 640))), "long.jpg"), "recipe": recipe})
        assert response.status_code == 202, response.get_json()
        job_id = response.get_json()["id"]

        def step() -> Step:
            db.session.expire_all()
            (found,) = db.session.scalars(
                db.select(Step).join(Step.output).where(Output.job_id == job_id))
            return found

        wait_for(lambda: step().status == "running" and step().progress >= 1, timeout=180,
                 interval=0.2)
        # Sampled only while the consumer's one worker thread is inside the task.
        during = beats(file, 60, while_true=lambda: step().status == "running")
    assert len(during) >= 3, (during, "the denoise ended too soon to show the heartbeat")
    assert max(b - a for a, b in itertools.pairwise(during)) <= MAX_GAP_SECONDS
    assert worker.stop() == 0


# --- worker processes (the standard queue's default) ------------------------------------


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc: no dependency for one test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command, which is in parentheses and may hold spaces.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                not in ("Z", "X"))
    except OSError:
        return False


def submit_jobs(server_app, count: int) -> list[str]:
    client = server_app.test_client()
    recipe = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 32}]}]})
    ids = []
    for n in range(count):
        reply = client.post("/api/v1/jobs", content_type="multipart/form-data", data={
            "file": (io.BytesIO(make_image((64 + n, 48))), "a.jpg"), "recipe": recipe})
        assert reply.status_code == 202, reply.get_json()
        ids.append(reply.get_json()["id"])
    return ids


def statuses(server_app, ids: list[str]) -> list[str]:
    client = server_app.test_client()
    return [client.get(f"/api/v1/jobs/{job_id}").get_json()["status"] for job_id in ids]


def test_standard_tasks_run_in_worker_processes_whose_metrics_the_consumer_sums(
        server_app, server_env, spawn):
    from tests.test_metrics import parse, value

    port = free_port()
    consumer = spawn("worker", "standard", "--no-periodic", "-w", "2", env={
        **server_env, "PIXTOOLS_METRICS_PORT": str(port), "PIXTOOLS_METRICS_HOST": "127.0.0.1"})
    # Two workers and Huey's scheduler, each a process of its own.
    workers = wait_for(lambda: len(children_of(consumer.proc.pid)) >= 3
                       and children_of(consumer.proc.pid), timeout=60)
    ids = submit_jobs(server_app, 6)
    wait_for(lambda: set(statuses(server_app, ids)) == {"succeeded"}, timeout=60)
    counted = Path(tempfile.gettempdir()) / f"pixtools-worker-metrics-{consumer.proc.pid}"
    # The workers counted the steps in files of their own; the consumer serves the sum.
    counters = {int(path.stem.split("_")[1]) for path in counted.glob("counter_*.db")}
    assert counters & set(workers), (counters, workers)
    samples = parse(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
    assert value(samples, "pixtools_jobs_finished_total", status="succeeded") == 6
    assert value(samples, "pixtools_step_duration_seconds_count",
                 op="resize", queue="standard") == 6
    assert '"worker_type": "process"' in consumer.output()

    assert consumer.stop() == 0  # SIGINT: the workers finish and leave with the consumer
    assert not any(alive(pid) for pid in workers)
    assert not counted.exists()  # the folder it made for the sums is removed


def test_worker_processes_die_with_a_killed_consumer_and_threads_stay_available(
        server_app, server_env, spawn):
    consumer = spawn("worker", "standard", "--no-periodic", "-w", "2", env=server_env)
    workers = wait_for(lambda: len(children_of(consumer.proc.pid)) >= 3
                       and children_of(consumer.proc.pid), timeout=60)
    consumer.proc.kill()  # SIGKILL: no chance to stop its workers itself
    consumer.proc.wait()
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=20)

    threads = spawn("worker", "standard", "--no-periodic", "-k", "thread", env=server_env)
    ids = submit_jobs(server_app, 2)
    wait_for(lambda: set(statuses(server_app, ids)) == {"succeeded"}, timeout=60)
    assert children_of(threads.proc.pid) == []
    assert '"worker_type": "thread"' in threads.output()
