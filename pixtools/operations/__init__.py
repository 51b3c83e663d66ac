"""The operation registry: every operation a recipe may name, in one place.

Adding an operation means one module here, one line in ``REGISTRY`` and one test.
"""

from __future__ import annotations

from . import blur, convert, crop, denoise, flip, grayscale, metadata, resize, rotate, sharpen
from .base import DETAILS_KEY, Operation, OutputLimits, Params, Progress, Refusal

REGISTRY: dict[str, Operation] = {
    op.name: op
    for op in (
        convert.OPERATION,
        resize.OPERATION,
        crop.OPERATION,
        rotate.OPERATION,
        flip.OPERATION,
        grayscale.OPERATION,
        sharpen.OPERATION,
        blur.OPERATION,
        metadata.OPERATION,
        denoise.OPERATION,
    )
}

__all__ = ["DETAILS_KEY", "REGISTRY", "Operation", "OutputLimits", "Params", "Progress",
           "Refusal", "encoding_op", "get"]


def get(name: str) -> Operation:
    return REGISTRY[name]


def encoding_op() -> Operation:
    """The operation whose parameters decide an output's encoding (``convert``)."""
    return next(op for op in REGISTRY.values() if op.encoding)
