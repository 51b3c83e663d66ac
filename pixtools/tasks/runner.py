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

log = logging.getLogger(__name__)


def run_operation(
    name: str,
    params: dict[str, object],
    frames: list[Image.Image],
    progress: Callable[[float], None],
) -> list[Image.Image]:
    """Run one step on a still (one frame) or on every frame of an animation.

    An operation that predicts its result (``Operation.predict_size``) is refused before it
    allocates anything over the output limits; every result is checked after it too.
    """
    operation = REGISTRY[name]
    logs.bind(step=name)
    settings = current_app.extensions["pixtools.settings"]
    limits = OutputLimits.from_settings(settings)
    validated = operation.params.model_validate(params)
    if operation.predict_size is not None:
        _check(limits, name, operation.predict_size(frames[0].size, validated), "would make")
    started = time.perf_counter()
    with runtime.configured(settings.denoise_config):
        result = operation.run(frames, validated, progress)
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
