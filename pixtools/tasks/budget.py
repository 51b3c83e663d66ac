"""A step's time budget (``PIXTOOLS_STEP_MAX_SECONDS``): work past it fails the step with a
reason, and the worker is free for the next task at once.

Python cannot stop a thread, and a Pillow or libavif call cannot be interrupted: so the work
runs in a thread of its own while the worker waits for it at most the budget. Past it the
step fails and the worker moves on; the abandoned work stops at its next progress report
(which raises) or when its library call returns, and its result is dropped. The budget caps
how long a worker is held, not how long a runaway library call burns a core; output limits
and encoder settings bound that (see docs/operating.md).
"""

from __future__ import annotations

import logging
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


def run_within(deadline: Deadline, work: Callable[[], T]) -> T:
    """``work()``'s result, or ``OverBudget`` once ``deadline`` passes (the work is left to
    end by itself, in the background)."""
    outcome: dict[str, object] = {}
    context = copy_context()  # the logging context and the model settings go with it

    def target() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as exc:  # handed to the waiting worker below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"budget-{deadline.what}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline.left()))
    if thread.is_alive():
        log.warning("step over its time budget; abandoned",
                    extra={"what": deadline.what, "budget_seconds": deadline.seconds})
        raise OverBudget(explain(deadline.what, deadline.seconds))
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
