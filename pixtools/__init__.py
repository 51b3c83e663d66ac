"""PixTools: a self-hostable image-processing service.

``create_app`` builds the web app (``flask --app pixtools …`` finds it here); the
``pixtools`` command is ``pixtools.cli``. ``docs/architecture.md`` draws the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # The app is loaded on first use, so that importing the core (``pixtools.imaging``,
    # ``pixtools.operations``, ``pixtools.ml``) does not bring the web stack with it.
    if name == "create_app":
        return importlib.import_module("pixtools.app").create_app
    raise AttributeError(f"module 'pixtools' has no attribute {name!r}")
