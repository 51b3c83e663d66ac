"""The browser assets PixTools serves from ``static/vendor``: present, or the app refuses to
start.

They are npm releases committed under ``pixtools/static/vendor`` (``package.json``'s
``vendor`` map names them; ``scripts/vendor-assets.sh`` refreshes them from the lock), so
every wheel, sdist and image carries them. Without them a page renders and then never moves
(htmx missing: a card stays "Queued" forever), which is worse than not starting.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..config import ConfigError

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"


class AssetsMissing(ConfigError):
    """Vendored browser assets are missing: the message names them and what to run."""


def missing(names: Iterable[str], vendor: Path | None = None) -> list[str]:
    """Which of ``names`` (paths relative to ``vendor``, default ``VENDOR``) are not files."""
    folder = vendor or VENDOR
    return [name for name in names if not (folder / name).is_file()]


def require(names: Iterable[str], what: str, vendor: Path | None = None) -> None:
    """Raise ``AssetsMissing`` unless every one of ``names`` is in ``vendor`` (default
    ``VENDOR``); ``what`` says which part of PixTools needs them."""
    vendor = vendor or VENDOR
    absent = missing(names, vendor)
    if absent:
        raise AssetsMissing(
            f"{what} needs browser assets that are missing from {vendor}: "
            f"{', '.join(absent)}. In a checkout, restore them with "
            "`git checkout -- pixtools/static/vendor` (or `make assets`, which needs npm); "
            "otherwise reinstall PixTools from a wheel, which carries them."
        )
