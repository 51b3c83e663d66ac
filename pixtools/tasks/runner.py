"""Runs one operation on one image: the single place for timing, metrics and deadlines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PIL import Image

from .. import limits, logs
from ..operations import REGISTRY

log = logging.getLogger(__name__)

# Called after every step with (operation name, queue, seconds, input pixels over all frames);
# metrics hook in here.
StepObserver = Callable[[str, str, float, int], None]
_observers: list[StepObserver] = []


def observe(observer: StepObserver) -> None:
    _observers.append(observer)


def run_operation(
    name: str,
    params: dict[str, object],
    frames: list[Image.Image],
    progress: Callable[[float], None],
) -> list[Image.Image]:
    """Run one step on a still (one frame) or on every frame of an animation."""
    operation = REGISTRY[name]
    logs.bind(step=name)
    validated = operation.params.model_validate(params)
    limits.check_step_before(name, validated, frames[0].size)
    started = time.perf_counter()
    result = operation.run(frames, validated, progress)
    elapsed = time.perf_counter() - started
    limits.check_step_after(name, result[0].size)
    log.info(
        "step done", extra={"op": name, "queue": operation.queue, "seconds": round(elapsed, 4)}
    )
    pixels = sum(frame.width * frame.height for frame in frames)  # every frame was processed
    for observer in _observers:
        observer(name, operation.queue, elapsed, pixels)
    return result
