"""``pixtools worker standard|ml``: a thin wrapper over Huey's consumer with our defaults."""

from __future__ import annotations

import logging
import sys

from flask import Flask

from . import metrics
from .app import create_app
from .ml import runtime
from .ml.weights import WeightsError
from .queues import get_queues
from .tasks.periodic import SweepTicker

log = logging.getLogger(__name__)


def run(queue: str, *, workers: int | None = None, periodic: bool = True) -> None:
    app = create_app()
    settings = app.extensions["pixtools.settings"]
    if workers is None:
        # DnCNN uses every core for one image: the ml pool runs one job at a time.
        workers = settings.standard_workers if queue == "standard" else 1
    logging.basicConfig(level=logging.INFO)
    metrics.serve(settings)  # consumers have no web server: PIXTOOLS_METRICS_PORT exports
    huey = get_queues(app).by_name(queue)
    consumer = huey.create_consumer(
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
    log.info("consumer starting", extra={"queue": queue, "workers": workers})
    consumer.run()


def load_model(app: Flask) -> None:
    """Load DnCNN once, before taking work; unusable weights are reported, not fatal.

    Without weights the worker still runs, so denoise jobs fail with the reason (and what
    to run) instead of waiting in a queue nobody serves.
    """
    try:
        runtime.denoiser(app.extensions["pixtools.settings"].denoise_config)
    except ImportError as exc:  # an image or install without the ml extra (torch)
        log.error("denoise unavailable: %s", exc)
        print(f"pixtools worker ml: denoise unavailable: torch is not installed ({exc}); "
              "install PixTools with its ml extra", file=sys.stderr, flush=True)
    except WeightsError as exc:
        log.error("denoise unavailable: %s", exc)
        print(f"pixtools worker ml: denoise unavailable: {exc}", file=sys.stderr, flush=True)
