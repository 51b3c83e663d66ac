"""The one DnCNN of this process, loaded on first use (the ml worker loads it at start).

Imports torch: only the ml worker's code path reaches this module.
"""

from __future__ import annotations

import logging
import threading

from ..config import Settings
from .inference import Denoiser

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[tuple[object, ...], Denoiser] = {}


def _key(settings: Settings) -> tuple[object, ...]:
    return (str(settings.dncnn_weights), settings.dncnn_precision, settings.dncnn_threads,
            settings.dncnn_tile)


def denoiser(settings: Settings) -> Denoiser:
    """The loaded model; ``WeightsError`` (saying what to run) when the weights are unusable."""
    key = _key(settings)
    with _lock:
        if key not in _loaded:
            model = Denoiser(
                settings.dncnn_weights,
                precision=settings.dncnn_precision,
                threads=settings.dncnn_threads or None,
                tile=settings.dncnn_tile,
            )
            log.info(
                "DnCNN loaded",
                extra={"precision": model.precision, "threads": model.threads,
                       "device": str(model.device), "tile": model.tile},
            )
            _loaded[key] = model
        return _loaded[key]
