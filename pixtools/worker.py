"""``pixtools worker standard|ml|webhooks``: Huey's consumer with PixTools' defaults.

The standard queue's tasks run in worker processes (``-k process``), the others in threads.
Image steps do part of their work in Python while holding the GIL (decoding a JPEG in
pieces, the bookkeeping between Pillow's calls): two thumbnails at a time ran 7–9 % faster
in two processes than in two threads of one process. A forked worker opens its own database
connections and storage client, dies with the consumer that forked it, and counts its
metrics in files the consumer sums when scraped (prometheus_client's multiprocess mode,
which has to be chosen before the metrics exist: the command starts itself again with it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey.consumer import Consumer, Environment, ProcessEnvironment

from . import metrics, storage
from .app import create_app, settle_heap
from .db import db
from .ml import runtime
from .ml.weights import WeightsError
from .queues import get_queues
from .tasks.periodic import SweepTicker

log = logging.getLogger(__name__)

# How often the consumer touches its heartbeat file; the images call it stale after 30 s,
# and the promise to them is "at least every 10 s".
HEARTBEAT_SECONDS = 5.0


class HeartbeatConsumer(Consumer):
    """Huey's consumer, touching ``heartbeat_file`` from its own main loop.

    The main loop never runs a task (worker threads do), and it goes on while Redis is down
    (the workers log their read errors and back off) and while a task runs for 15 minutes.
    So the file grows old only when the consumer itself is stuck or gone, or when a worker
    thread or the scheduler has died and could not be restarted: exactly when restarting
    the process helps. A task that hangs is not its business: its lease lapses and the
    sweeper puts the step back in line.
    """

    def __init__(self, huey: Huey, *, heartbeat_file: Path | None,
                 after_start: tuple[Callable[[], Any], ...] = (),
                 after_fork: Callable[[], Any] | None = None, **options: Any) -> None:
        self.after_fork = after_fork  # read by ``get_environment``, within Huey's __init__
        super().__init__(huey, **options)
        self.heartbeat_file = heartbeat_file
        self.after_start = after_start
        self._next_beat = 0.0
        self._touch_failed = False

    def get_environment(self, worker_type: str) -> Environment:
        environment = super().get_environment(worker_type)
        if self.after_fork is None or not isinstance(environment, ProcessEnvironment):
            return environment
        return ForkedProcesses(self.after_fork, environment.graceful, environment.interrupt)

    def start(self) -> None:
        super().start()
        # Threads of this process start once the workers are forked: a child gets no copy
        # of a lock another thread held at that moment.
        for start in self.after_start:
            start()

    def loop(self, health_check_ts: float | None = None) -> float | None:
        health_check_ts = super().loop(health_check_ts)  # raises ConsumerStopped at the end
        now = time.monotonic()
        if self.heartbeat_file is not None and now >= self._next_beat and self.threads_alive():
            self._next_beat = now + HEARTBEAT_SECONDS
            self._beat(self.heartbeat_file)
        return health_check_ts

    def threads_alive(self) -> bool:
        threads = [thread for _, thread in self.worker_threads] + [self.scheduler]
        return all(self.environment.is_alive(thread) for thread in threads)

    def _beat(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            # Said once: the health check will call the consumer dead, and this says why.
            if not self._touch_failed:
                log.error("cannot touch the heartbeat file %s: %s", path, exc)
            self._touch_failed = True
        else:
            self._touch_failed = False


class ForkedProcesses(ProcessEnvironment):
    """Huey's process workers, each child (the workers and the scheduler) running
    ``after_fork`` before anything else."""

    def __init__(self, after_fork: Callable[[], Any], *signals: int) -> None:
        super().__init__(*signals)
        self.after_fork = after_fork

    def init_child(self, process: Any) -> None:
        super().init_child(process)
        self.after_fork()


def default_workers(settings: Any, queue: str) -> int:
    """Concurrent tasks of a consumer of ``queue`` when ``-w`` does not say."""
    if queue == "webhooks":
        # Deliveries wait on the network, not the CPU: several at once, each bounded by
        # its deadline.
        return int(settings.webhook_workers)
    # DnCNN uses every core for one image: the ml pool runs one job at a time.
    return int(settings.standard_workers) if queue == "standard" else 1


def heartbeat_path(setting: str) -> Path | None:
    """``PIXTOOLS_WORKER_HEARTBEAT_FILE`` as a path (None: no heartbeat)."""
    return Path(setting) if setting else None


WORKER_TYPES = ("thread", "process")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PR_SET_PDEATHSIG = 1  # Linux prctl: the signal a process gets when its parent dies


def default_worker_type(queue: str) -> str:
    """Processes for image steps; ml runs one job at a time on torch's own threads, and
    webhook deliveries wait on the network."""
    return "process" if queue == "standard" else "thread"


def _own_metrics_dir() -> Path:
    # Named by the process id, which ``execv`` keeps: the restarted command knows it made it.
    return Path(tempfile.gettempdir()) / f"pixtools-worker-metrics-{os.getpid()}"


def sum_metrics_of_processes() -> Path:
    """The folder the workers' metrics are counted in, emptied; starts the command again
    when prometheus_client was imported without it (its mode is chosen at import)."""
    if not os.environ.get(MULTIPROC_ENV):
        own = _own_metrics_dir()
        own.mkdir(parents=True, exist_ok=True)
        os.environ[MULTIPROC_ENV] = str(own)
        os.execv(sys.executable, [sys.executable, "-m", "pixtools", *sys.argv[1:]])
    directory = Path(os.environ[MULTIPROC_ENV])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # an earlier run's values would be added to ours
        stale.unlink()
    return directory


def _die_with(parent: int) -> None:
    """Ask Linux to kill this worker when ``parent`` dies: a consumer killed outright (OOM,
    SIGKILL) must not leave workers taking tasks nobody watches. Their leases then lapse
    and the sweeper puts their steps back in line, as for a killed thread consumer."""
    name = ctypes.util.find_library("c")
    try:
        prctl = ctypes.CDLL(name).prctl if name else None
    except (OSError, AttributeError):
        prctl = None
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def reopen_after_fork(app: Flask, parent: int) -> Callable[[], None]:
    """What a forked child runs first: its own database connections
    (the parent's stay the parent's) and its own storage client (boto3's are not safe to
    share across a fork). Redis clients reconnect by themselves in a new process."""
    def reopen() -> None:
        _die_with(parent)
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        storage.init_app(app)

    return reopen


def run(queue: str, *, workers: int | None = None, periodic: bool = True,
        worker_type: str | None = None) -> None:
    worker_type = worker_type or default_worker_type(queue)
    metrics_dir = sum_metrics_of_processes() if worker_type == "process" else None
    app = create_app()
    settings = app.extensions["pixtools.settings"]
    if workers is None:
        workers = default_workers(settings, queue)
    logging.basicConfig(level=logging.INFO)
    huey = get_queues(app).by_name(queue)
    heartbeat = heartbeat_path(settings.worker_heartbeat_file)
    if heartbeat is not None:
        heartbeat.unlink(missing_ok=True)  # a file left by an earlier run says nothing now
    # Consumers have no web server: PIXTOOLS_METRICS_PORT exports their metrics.
    after_start: list[Callable[[], Any]] = [lambda: metrics.serve(settings)]
    if periodic and queue == "standard":
        after_start.append(SweepTicker(app).start)
    consumer = HeartbeatConsumer(
        huey,
        heartbeat_file=heartbeat,
        after_start=tuple(after_start),
        after_fork=reopen_after_fork(app, os.getpid()),
        workers=workers,
        worker_type=worker_type,
        periodic=periodic and queue == "standard",
        initial_delay=0.05,
        max_delay=1.0,
        backoff=1.5,
    )
    if queue == "ml":
        load_model(app)
    settle_heap()
    log.info("consumer starting",
             extra={"queue": queue, "workers": workers, "worker_type": worker_type})
    try:
        consumer.run()  # the first heartbeat follows its start: the model is loaded by then
    finally:
        if heartbeat is not None:
            heartbeat.unlink(missing_ok=True)
        if metrics_dir == _own_metrics_dir():
            shutil.rmtree(metrics_dir, ignore_errors=True)


def load_model(app: Flask) -> None:
    """Load DnCNN and both FFDNet models once, before taking work; unusable weights are
    reported, not fatal.

    Without weights the worker still runs, so denoise jobs fail with the reason (and what
    to run) instead of waiting in a queue nobody serves; without FFDNet's, denoise's
    ``auto`` falls back to DnCNN.
    """
    config = app.extensions["pixtools.settings"].denoise_config
    for kind in ("dncnn", "ffdnet", "ffdnet_clip"):
        try:
            runtime.denoiser(config, kind)
        except ImportError as exc:  # an image or install without the ml extra (torch)
            log.error("denoise unavailable: %s", exc)
            print(f"pixtools worker ml: denoise unavailable: torch is not installed ({exc}); "
                  "install PixTools with its ml extra", file=sys.stderr, flush=True)
            return
        except WeightsError as exc:
            what = "denoise unavailable" if kind == "dncnn" else f"denoise model {kind} unavailable"
            log.error("%s: %s", what, exc)
            print(f"pixtools worker ml: {what}: {exc}", file=sys.stderr, flush=True)
