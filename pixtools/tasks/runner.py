"""Runs one operation on one image: the single place for timing, metrics, size budgets and
the process resources an operation may need (the denoise model's settings)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import current_app
from PIL import Image

from .. import logs, metrics
from ..errors import StepFailed
from ..ml import runtime
from ..operations import REGISTRY, OutputLimits
from . import budget

log = logging.getLogger(__name__)


def run_operation(
    name: str,
    params: dict[str, object],
    frames: list[Image.Image],
    progress: Callable[[float], None],
) -> list[Image.Image]:
    """Run one step on a still (one frame) or on every frame of an animation.

    Every operation's result is predicted before it allocates anything
    (``Operation.predict_size``, else the input's size: the operation never grows it) and
    refused over the output limits; every result is checked after it too. The operation
    runs within the step's time budget (``budget``).
    """
    operation = REGISTRY[name]
    logs.bind(step=name)
    settings = current_app.extensions["pixtools.settings"]
    limits = OutputLimits.from_settings(settings)
    validated = operation.params.model_validate(params)
    predicted = (operation.predict_size(frames[0].size, validated)
                 if operation.predict_size is not None else frames[0].size)
    _check(limits, name, predicted, "would make")
    deadline = budget.Deadline(settings.step_max_seconds, name)

    def checked_progress(fraction: float) -> None:
        deadline.check()  # abandoned work stops at its next report
        progress(fraction)

    def work() -> list[Image.Image]:
        with runtime.configured(settings.denoise_config):
            return operation.run(frames, validated, checked_progress)

    started = time.perf_counter()
    result = budget.run_within(deadline, work)
    elapsed = time.perf_counter() - started
    _check(limits, name, result[0].size, "made")
    log.info(
        "step done", extra={"op": name, "queue": operation.queue, "seconds": round(elapsed, 4)}
    )
    pixels = sum(frame.width * frame.height for frame in frames)  # every frame was processed
    metrics.record_step(name, operation.queue, elapsed, pixels)
    return result


def _check(limits: OutputLimits, op: str, size: tuple[int, int], verb: str) -> None:
    problem = limits.problem(*size)
    if problem:
        raise StepFailed(
            f"{op} {verb} the image {size[0]} × {size[1]} pixels, but {problem}: "
            "ask for a smaller size."
        )
