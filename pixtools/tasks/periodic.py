"""Work done on a clock: the sweeper between Huey's minute ticks.

Huey runs periodic tasks (``pixtools.tasks``) with a grain of one minute, only in the one
consumer started without ``--no-periodic``. Recovery should be timelier than that, and must
go on while the queue's Redis is down or came back without its data, so that consumer also
sweeps from a thread of its own every ``PIXTOOLS_SWEEP_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from .. import jobs

log = logging.getLogger(__name__)


class SweepTicker:
    """Sweeps every ``sweep_interval_seconds`` from a thread of the one consumer that runs
    periodic tasks. Sweeping here, not through the queue, keeps recovery timely behind a
    long queue and while the queue's Redis is down or came back without its data."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._interval = app.extensions["pixtools.settings"].sweep_interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._app.app_context():
                    jobs.sweep()
            except Exception:
                log.exception("sweep failed; trying again in %s s", self._interval)


