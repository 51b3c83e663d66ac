"""A step's time budget (``PIXTOOLS_STEP_MAX_SECONDS``): work past it fails the step with a
reason, and the worker is free for the next task at once.

Python cannot stop a thread, and a Pillow or libavif call cannot be interrupted: so the work
runs in another thread (each worker keeps one for this) while the worker waits for it at
most the budget. Past it the step fails and the worker moves on; the abandoned work stops
at its next progress report (which raises) or when its library call returns, and its result
is dropped. The budget caps how long a worker is held, not how long a runaway library call
burns a core; output limits and encoder settings bound that (see docs/operating.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextvars import copy_context
from typing import TypeVar

from ..errors import StepFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


class OverBudget(StepFailed):
    """The step ran past its time budget."""


def explain(what: str, seconds: float) -> str:
    return (f"{what} ran past the step's time budget of {seconds:g} s "
            "(PIXTOOLS_STEP_MAX_SECONDS) and was stopped: try a smaller image, fewer or "
            "lighter steps, or a faster encoder setting (a higher AVIF speed)")


class Deadline:
    """When the current step's time is up; ``check`` raises past it (progress reports
    call it, so cooperative work stops at its next report)."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.left() < 0:
            raise OverBudget(explain(self.what, self.seconds))


class _Runner:
    """A thread that runs one worker's budgeted work, one piece at a time. A worker keeps
    its runner while the work ends in time: a task runs three or more pieces (each
    operation, the encode), and starting and joining a thread cost ~55 us of CPU here
    against ~20 us for handing a piece to a kept one."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="budget", daemon=True).start()

    def _loop(self) -> None:
        while (work := self._work.get()) is not None:
            work()

    def run(self, work: Callable[[], None]) -> None:
        self._work.put(work)

    def retire(self) -> None:
        """End the thread once the work in hand returns (it is abandoned)."""
        self._work.put(None)


_runners = threading.local()  # each worker thread's own runner


def run_within(deadline: Deadline, work: Callable[[], T]) -> T:
    """``work()``'s result, or ``OverBudget`` once ``deadline`` passes (the work is left to
    end by itself, in the background)."""
    outcome: dict[str, object] = {}
    context = copy_context()  # the logging context and the model settings go with it
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as exc:  # handed to the waiting worker below
            outcome["error"] = exc
        finally:
            done.set()

    runner = getattr(_runners, "runner", None) or _Runner()
    _runners.runner = runner
    runner.run(target)
    if not done.wait(max(0.0, deadline.left())):
        # The runner stays with the abandoned work; this worker's next work gets a new one.
        _runners.runner = None
        runner.retire()
        log.warning("step over its time budget; abandoned",
                    extra={"what": deadline.what, "budget_seconds": deadline.seconds})
        raise OverBudget(explain(deadline.what, deadline.seconds))
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
