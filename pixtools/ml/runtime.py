"""The denoiser of this process: loaded once, on first use, from plain settings.

Importing this module does not import torch: ``pixtools.ml.inference`` (which does) is
imported when a denoiser is first built, so only a process that denoises pays for it (the
web app and the standard workers never do; a test reads their memory maps to prove it).

Which settings apply is the caller's to say: the task that runs a step puts the process's
``DenoiseConfig`` in place with ``configured``; the ``denoise`` operation then asks for
``current()``. A context variable, not a global, so that several apps in one process (and
their threads) each see their own.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .weights import WeightsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenoiseConfig:
    """What a denoiser is built from (``PIXTOOLS_DNCNN_*`` settings)."""

    weights: Path
    precision: str = "auto"
    threads: int = 0  # 0: every core this process may use
    tile: int = 512


_active: ContextVar[DenoiseConfig | None] = ContextVar("pixtools_denoise_config", default=None)
_lock = threading.Lock()
_loaded: dict[DenoiseConfig, Any] = {}


@contextlib.contextmanager
def configured(config: DenoiseConfig) -> Iterator[None]:
    """Within this block, ``current()`` builds (or reuses) the denoiser of ``config``."""
    token = _active.set(config)
    try:
        yield
    finally:
        _active.reset(token)


def denoiser(config: DenoiseConfig) -> Any:
    """The loaded model for ``config``; ``WeightsError`` (saying what to run) when the
    weights are unusable."""
    with _lock:
        if config not in _loaded:
            # torch arrives with this import, on first use only (see the module docstring).
            inference = importlib.import_module("pixtools.ml.inference")
            model = inference.Denoiser(config.weights, precision=config.precision,
                                       threads=config.threads or None, tile=config.tile)
            log.info("DnCNN loaded", extra={"precision": model.precision,
                                            "threads": model.threads,
                                            "device": str(model.device), "tile": model.tile})
            _loaded[config] = model
        return _loaded[config]


def current() -> Any:
    """The denoiser of the configuration put in place by ``configured``."""
    config = _active.get()
    if config is None:
        raise WeightsError("no denoise settings in this process: run denoise steps through "
                           "a PixTools consumer")
    return denoiser(config)
