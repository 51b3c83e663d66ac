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

from . import weights
from .weights import WeightsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenoiseConfig:
    """What the denoisers are built from (``PIXTOOLS_DNCNN_*``, ``PIXTOOLS_FFDNET_*``)."""

    weights: Path  # DnCNN's
    precision: str = "auto"
    threads: int = 0  # 0: every core this process may use
    tile: int = 512
    # None: the released file name beside DnCNN's weights.
    ffdnet_weights: Path | None = None
    ffdnet_clip_weights: Path | None = None
    ffdnet_precision: str = "auto"
    ffdnet_tile: int = 1024

    def path(self, kind: str) -> Path:
        """The weights file of ``kind`` (dncnn, ffdnet or ffdnet_clip)."""
        if kind == "dncnn":
            return self.weights
        chosen = self.ffdnet_weights if kind == "ffdnet" else self.ffdnet_clip_weights
        spec = weights.FFDNET if kind == "ffdnet" else weights.FFDNET_CLIP
        return chosen or self.weights.parent / spec.filename


_active: ContextVar[DenoiseConfig | None] = ContextVar("pixtools_denoise_config", default=None)
_lock = threading.Lock()
_loaded: dict[tuple[DenoiseConfig, str], Any] = {}


@contextlib.contextmanager
def configured(config: DenoiseConfig) -> Iterator[None]:
    """Within this block, ``current()`` builds (or reuses) the denoiser of ``config``."""
    token = _active.set(config)
    try:
        yield
    finally:
        _active.reset(token)


def denoiser(config: DenoiseConfig, kind: str = "dncnn") -> Any:
    """The loaded model ``kind`` (dncnn, ffdnet, ffdnet_clip) for ``config``, each loaded
    once per process; ``WeightsError`` (saying what to run) when its weights are unusable."""
    with _lock:
        if (config, kind) not in _loaded:
            # torch arrives with this import, on first use only (see the module docstring).
            inference = importlib.import_module("pixtools.ml.inference")
            dncnn = kind == "dncnn"
            model = inference.Denoiser(
                config.path(kind), kind=kind, threads=config.threads or None,
                precision=config.precision if dncnn else config.ffdnet_precision,
                tile=config.tile if dncnn else config.ffdnet_tile)
            log.info("denoise model loaded", extra={
                "model": kind, "precision": model.precision, "threads": model.threads,
                "device": str(model.device), "tile": model.tile})
            _loaded[(config, kind)] = model
        return _loaded[(config, kind)]


def current(kind: str = "dncnn") -> Any:
    """The denoiser ``kind`` of the configuration put in place by ``configured``."""
    config = _active.get()
    if config is None:
        raise WeightsError("no denoise settings in this process: run denoise steps through "
                           "a PixTools consumer")
    return denoiser(config, kind)
