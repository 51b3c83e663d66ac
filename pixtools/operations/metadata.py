"""metadata: report the source's EXIF, XMP and ICC facts with the output.

The pixels pass through unchanged. The report (camera, lens, exposure, date, orientation,
colour profile, dimensions, author, copyright and GPS) is attached to the output's
``details.metadata`` and to ``metadata.json`` in the job's ZIP bundle. It describes the
uploaded file, whatever steps come before it. Coordinates appear only there.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..imaging import embedded
from .base import Operation, Params, Progress


class MetadataParams(Params):
    pass


def passthrough(image: Image.Image, params: MetadataParams, progress: Progress) -> Image.Image:
    return image


def report(source: embedded.Embedded, params: MetadataParams) -> dict[str, Any]:
    return embedded.report(source)


OPERATION = Operation(
    name="metadata",
    summary="Read camera, exposure, date, GPS and colour profile into the output's details.",
    params=MetadataParams,
    apply=passthrough,
    report=report,
)
