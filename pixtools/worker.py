"""``pixtools worker standard|ml|webhooks``: Huey's consumer with PixTools' defaults."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey.consumer import Consumer

from . import metrics
from .app import create_app, settle_heap
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

    def __init__(self, huey: Huey, *, heartbeat_file: Path | None, **options: Any) -> None:
        super().__init__(huey, **options)
        self.heartbeat_file = heartbeat_file
        self._next_beat = 0.0
        self._touch_failed = False

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


def run(queue: str, *, workers: int | None = None, periodic: bool = True) -> None:
    app = create_app()
    settings = app.extensions["pixtools.settings"]
    if workers is None:
        workers = default_workers(settings, queue)
    logging.basicConfig(level=logging.INFO)
    metrics.serve(settings)  # consumers have no web server: PIXTOOLS_METRICS_PORT exports
    huey = get_queues(app).by_name(queue)
    heartbeat = heartbeat_path(settings.worker_heartbeat_file)
    if heartbeat is not None:
        heartbeat.unlink(missing_ok=True)  # a file left by an earlier run says nothing now
    consumer = HeartbeatConsumer(
        huey,
        heartbeat_file=heartbeat,
        workers=workers,
        worker_type="thread",
        periodic=periodic and queue == "standard",
        initial_delay=0.05,
        max_delay=1.0,
        backoff=1.5,
    )
    if queue == "ml":
        load_model(app)
    if periodic and queue == "standard":
        SweepTicker(app).start()
    settle_heap()
    log.info("consumer starting", extra={"queue": queue, "workers": workers})
    try:
        consumer.run()  # the first heartbeat follows its start: the model is loaded by then
    finally:
        if heartbeat is not None:
            heartbeat.unlink(missing_ok=True)


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
