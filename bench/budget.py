"""The per-job CPU budget: CPU-milliseconds each process of the stack spends per thumbnail
job, beside Pillow's own CPU for the same decode, resize and encode.

CPU time is read from ``/proc`` (``utime + stime`` of every process of a group, all its
threads included), sampled while N jobs run: unlike wall time it hardly moves with other
load on the machine, so each change shows what it saved even on a busy machine. The groups:

- ``web``: the gunicorn master and its workers;
- ``consumer``: the ``pixtools worker standard`` process;
- ``PostgreSQL``: the backends connected to the stack's private database;
- ``Redis``: the stack's private ``redis-server`` (the shared one serves other clients too);
- ``thumbor`` (beside, when it runs): its processes, for the same thumbnails.

With the CPU it reports per job what the stores saw: transactions and rows from
``pg_stat_database`` / ``pg_stat_user_tables`` of the private database, and Redis commands
from ``INFO commandstats`` of the private Redis.

    python -m bench.budget --jobs 48            # the table alone, on its own stack
    python -m bench.budget --jobs 48 --profile  # and py-spy profiles of web and consumer
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import clients, profiles
from bench.stack import PG_ADMIN_URL, Stack, cpu_seconds

SAMPLE_SECONDS = 0.25  # a backend that ends between samples loses at most this much


class Sampler:
    """Cumulative CPU of groups of processes, followed across a run.

    Each group is a function listing its pids now: a pid first seen after the start counts
    from zero (it began during the run), one that ends keeps its last sample.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._base: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._last: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, first: bool = False) -> None:
        for name, pids in self._groups.items():
            for pid in pids():
                value = cpu_seconds(pid)
                if value is None:
                    continue
                if first:
                    self._base[name][pid] = value
                self._last[name][pid] = value

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def seconds(self) -> dict[str, float]:
        return {name: sum(value - self._base[name].get(pid, 0.0)
                          for pid, value in self._last[name].items())
                for name in self._groups}


@dataclass
class Budget:
    jobs: int
    cpu_ms: dict[str, float]  # per job, by process group
    pillow_ms: float  # Pillow's CPU for the same work (PixTools' settings), per job
    plain_pillow_ms: float  # the raw Pillow floor's (plain baseline JPEG), per job
    thumbor_ms: float | None = None  # per image, when thumbor ran
    database: dict[str, float] = field(default_factory=dict)  # per job
    redis: dict[str, float] = field(default_factory=dict)  # commands per job

    @property
    def service_ms(self) -> float:
        return sum(self.cpu_ms.values())

    @property
    def beyond_pillow_ms(self) -> float:
        return self.service_ms - self.pillow_ms


def _backend_pids(database: str) -> Callable[[], list[int]]:
    import psycopg2

    name = database.rsplit("/", 1)[1]
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    admin.autocommit = True
    lock = threading.Lock()

    def pids() -> list[int]:
        with lock, admin.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            return [row[0] for row in cursor.fetchall()]

    return pids


_DB_COUNTS = (
    "SELECT 'transactions', xact_commit + xact_rollback FROM pg_stat_database"
    " WHERE datname = current_database()"
    " UNION ALL SELECT 'rows read (index scans)', coalesce(sum(idx_scan), 0)"
    " + coalesce(sum(seq_scan), 0) FROM pg_stat_user_tables"
    " UNION ALL SELECT 'rows inserted', coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables"
    " UNION ALL SELECT 'rows updated', coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables"
)


def _database_counts(url: str) -> dict[str, float]:
    import psycopg2

    connection = psycopg2.connect(url, connect_timeout=3)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            # The statistics collector publishes at most every 500 ms, and a new
            # transaction's snapshot of them must be taken afresh.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(_DB_COUNTS)
            return {name: float(value) for name, value in cursor.fetchall()}
    finally:
        connection.close()


def _redis_counts(url: str) -> dict[str, float]:
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return {name.removeprefix("cmdstat_"): float(value["calls"])
            for name, value in stats.items()}


def _delta(after: dict[str, float], before: dict[str, float], jobs: int) -> dict[str, float]:
    return {name: (value - before.get(name, 0.0)) / jobs for name, value in after.items()
            if value - before.get(name, 0.0) > 0}


def pillow_cpu_ms(paths: list[Path], as_pixtools: bool) -> float:
    """Pillow's CPU per photo, two processes at once (as the jobs ran, two in flight: on
    two cores that share caches, work done side by side costs a little more CPU)."""
    work = clients.pillow_cpu_as_pixtools if as_pixtools else clients.pillow_cpu
    with multiprocessing.get_context("spawn").Pool(clients.CONCURRENCY) as pool:
        pool.map(work, paths[:2])  # warm: imports, codecs
        seconds = pool.map(work, paths * 2, chunksize=1)
    return sum(seconds) * 1000 / len(seconds)


def measure(local: Stack, paths: list[Path], jobs: int, thumbor: Stack | None = None,
            profile_to: Path | None = None, gil: bool = False) -> Budget:
    """Run ``jobs`` thumbnail jobs (2 in flight) and read what each process spent."""
    print("budget", file=sys.stderr)
    data = [path.read_bytes() for path in paths]
    chosen = [data[number % len(data)] for number in range(jobs)]
    clients.pixtools_batch(local.url, data[:4], clients.THUMBNAIL, local.key)  # warm
    consumer = local.consumer
    assert consumer is not None
    groups: dict[str, Callable[[], list[int]]] = {
        "web": lambda: [local.web.popen.pid, *local.web_workers()],
        "consumer": lambda: [consumer.popen.pid, *consumer.children()],
        "PostgreSQL": _backend_pids(local.env["PIXTOOLS_DATABASE_URL"]),
    }
    if local.redis is not None:
        redis_proc = local.redis
        groups["Redis"] = lambda: [redis_proc.popen.pid]
    database = local.env["PIXTOOLS_DATABASE_URL"]
    redis_url = local.env["PIXTOOLS_REDIS_URL"]
    db_before, redis_before = _database_counts(database), _redis_counts(redis_url)
    with contextlib.ExitStack() as profiling:
        if profile_to is not None:
            profiling.enter_context(profiles.recording(profile_to, {
                "web": local.web_workers(), "consumer": [consumer.popen.pid]}, gil))
        with Sampler(groups) as sampler:
            clients.pixtools_batch(local.url, chosen, clients.THUMBNAIL, local.key)
    time.sleep(0.6)  # the statistics collector's next report
    budget = Budget(
        jobs=jobs, cpu_ms={name: seconds * 1000 / jobs
                           for name, seconds in sampler.seconds().items()},
        pillow_ms=pillow_cpu_ms(paths, as_pixtools=True),
        plain_pillow_ms=pillow_cpu_ms(paths, as_pixtools=False),
        database=_delta(_database_counts(database), db_before, jobs),
        redis=_delta(_redis_counts(redis_url), redis_before, jobs),
    )
    if thumbor is not None:
        names = [paths[number % len(paths)].name for number in range(jobs)]
        with Sampler({"thumbor": lambda: [thumbor.web.popen.pid,
                                          *thumbor.web.children()]}) as sampler:
            clients.thumbor_batch(thumbor.url, names)
        budget.thumbor_ms = sampler.seconds()["thumbor"] * 1000 / jobs
    return budget


def _stack_groups(stack: Stack) -> dict[str, Callable[[], list[int]]]:
    groups: dict[str, Callable[[], list[int]]] = {
        "web": lambda: [stack.web.popen.pid, *stack.web_workers()]}
    if "PIXTOOLS_DATABASE_URL" in stack.env:
        groups["PostgreSQL"] = _backend_pids(stack.env["PIXTOOLS_DATABASE_URL"])
    if stack.redis is not None:
        redis_proc = stack.redis
        groups["Redis"] = lambda: [redis_proc.popen.pid]
    return groups


def per_request(local: Stack, bare: Stack, photo: bytes, count: int = 200) -> dict[str, float]:
    """CPU-ms per request of each kind (web + PostgreSQL + Redis), 2 in flight, against
    the bare Flask app's: what the framework, the middleware and each endpoint cost."""
    print("budget per request", file=sys.stderr)
    job = clients.wait(local.url, clients.submit(local.url, photo, clients.THUMBNAIL,
                                                 key=local.key), key=local.key)
    status = f"{local.url}/api/v1/jobs/{job['id']}"
    download = job["outputs"][0]["url"]
    uploads = max(10, count // 5)

    def gets(url: str, key: str | None = None) -> Callable[[], object]:
        return lambda: clients._in_flight(range(count), lambda _: len(
            clients.session().get(url, headers=clients.auth(key), timeout=60).content))

    kinds: dict[str, tuple[Stack, Callable[[], object], int]] = {
        "bare Flask: GET /health": (bare, gets(f"{bare.url}/health"), count),
        "bare Flask: 1 MB upload": (bare, lambda: clients.upload_batch(
            bare.url, photo, uploads, "/upload"), uploads),
        "GET /api/health": (local, gets(f"{local.url}/api/health"), count),
        "GET /api/v1/jobs/<id> (finished)": (local, gets(status, local.key), count),
        "GET result download": (local, gets(download), count),
        "POST /api/v1/jobs (consumer paused)": (local, lambda: clients.upload_batch(
            local.url, photo, uploads, "/api/v1/jobs", clients.THUMBNAIL, local.key),
                                               uploads),
    }
    found = {}
    for name, (stack, run, items) in kinds.items():
        run()  # warm
        paused = name.startswith("POST")
        stack.pause_consumer(paused)
        try:
            with Sampler(_stack_groups(stack)) as sampler:
                run()
        finally:
            stack.pause_consumer(False)
        found[name] = sum(sampler.seconds().values()) * 1000 / items
    return found


def render_requests(found: dict[str, float]) -> list[str]:
    return ["| request | CPU ms (web, PostgreSQL, Redis) |", "| --- | --- |",
            *(f"| {name} | {ms:.2f} |" for name, ms in found.items())]


def render(budget: Budget) -> list[str]:
    lines = [f"| process | CPU ms per job ({budget.jobs} jobs, 2 in flight) |", "| --- | --- |"]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in budget.cpu_ms.items()]
    lines += [f"| **all processes** | **{budget.service_ms:.1f}** |",
              "| Pillow alone, same photos and settings (draft decode, LANCZOS, progressive "
              f"optimised JPEG q80; 2 processes) | {budget.pillow_ms:.1f} |",
              f"| **the service beyond Pillow's work** | **{budget.beyond_pillow_ms:.1f}** |",
              f"| (raw Pillow floor: baseline JPEG q80) | {budget.plain_pillow_ms:.1f} |"]
    if budget.thumbor_ms is not None:
        lines.append(f"| thumbor 7.8.0, same photos (all its processes) | "
                     f"{budget.thumbor_ms:.1f} |")
    if budget.database:
        lines += ["", "PostgreSQL per job: " + ", ".join(
            f"{name} {value:.1f}" for name, value in budget.database.items())]
    if budget.redis:
        top = sorted(budget.redis.items(), key=lambda item: -item[1])
        lines += ["", f"Redis commands per job: {sum(budget.redis.values()):.1f} (" + ", ".join(
            f"{name} {value:.1f}" for name, value in top) + ")"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=48)
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=1, help="measure this many times")
    parser.add_argument("--requests", action="store_true",
                        help="also the CPU per request of each kind, against a bare Flask app")
    parser.add_argument("--profile", type=Path, default=None,
                        help="also record py-spy profiles into this folder")
    parser.add_argument("--gil", action="store_true",
                        help="profile only the thread holding the GIL (Python's own CPU)")
    args = parser.parse_args()
    from bench import stack
    from bench.photos import photos, upload_image

    paths = photos(args.photos)
    with contextlib.ExitStack() as running:
        local = running.enter_context(stack.pixtools_stack("budget", private_redis=True))
        budgets = []
        for number in range(args.rounds):
            profile = args.profile if number == args.rounds - 1 else None
            budgets.append(measure(local, paths, args.jobs, profile_to=profile, gil=args.gil))
            print("\n".join(render(budgets[-1])), flush=True)
        if args.rounds > 1:
            print("\nmedians: " + ", ".join(
                f"{name} {statistics.median(b.cpu_ms[name] for b in budgets):.1f}"
                for name in budgets[0].cpu_ms) + ", beyond Pillow "
                f"{statistics.median(b.beyond_pillow_ms for b in budgets):.1f}", flush=True)
        if args.profile is not None:
            print("\n" + profiles.summary(args.profile), flush=True)
        if args.requests:
            bare = running.enter_context(stack.bare_stack())
            print("\n".join(render_requests(per_request(local, bare, upload_image()))))


if __name__ == "__main__":
    main()
