"""Step leases: a running step is held by its worker, which renews the hold from a thread.

A worker killed mid-task (OOM, SIGKILL, a scale-in) stops renewing; once the lease lapses
the sweeper (``sweep``) puts the step back in line. A worker that finds its lease taken
over stops quietly (``LeaseLost``) and leaves the step's state to its new holder.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from flask import Flask

from ..models import Step
from .steps import LeaseLost, renew_lease

__all__ = ["LeaseKeeper", "LeaseLost"]

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews the lease of the step a task is running, every quarter of the lease."""

    def __init__(self, app: Flask, step: Step) -> None:
        self._app = app
        self._held = (step.id, step.attempts)
        self._lost = False
        self._stop = threading.Event()
        seconds = app.extensions["pixtools.settings"].lease_seconds
        self._interval = max(0.25, seconds / 4)
        self._thread = threading.Thread(target=self._run, name=f"lease-{step.id}", daemon=True)

    def hold(self, step: Step) -> None:
        """The task moved on to ``step`` (already started, so holding its lease)."""
        self._held = (step.id, step.attempts)

    @property
    def step_id(self) -> int:
        return self._held[0]

    @property
    def attempt(self) -> int:
        """The attempt this task claimed of the step it holds: its final writes are fenced
        by it."""
        return self._held[1]

    @property
    def lost(self) -> bool:
        return self._lost

    def check(self) -> None:
        """Raise ``LeaseLost`` before a state change if another worker owns the step now."""
        if self._lost:
            raise LeaseLost(f"step {self._held[0]} was taken over")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            step_id, attempt = self._held
            try:
                with self._app.app_context():
                    if not renew_lease(step_id, attempt):
                        log.warning("lease of step %s lost; abandoning it", step_id)
                        self._lost = True
                        return
            except Exception:
                # The database may be briefly unreachable: keep trying until the lease lapses.
                log.warning("could not renew the lease of step %s", step_id, exc_info=True)
