"""denoise: remove sensor noise with DnCNN (colour, blind). Runs on the ml queue only.

The model is loaded once per ml worker by ``pixtools.ml.runtime``; importing this module
does not import torch, so the web app and the standard workers never load it.
"""

from __future__ import annotations

from flask import current_app
from PIL import Image
from pydantic import Field

from ..errors import StepFailed
from .base import Operation, Params, Progress


class DenoiseParams(Params):
    strength: float = Field(
        1.0, ge=0, le=1, description="Blend of denoised over original: 0 none, 1 full."
    )


def denoise(image: Image.Image, params: DenoiseParams, progress: Progress) -> Image.Image:
    from ..ml import runtime
    from ..ml.weights import WeightsError

    try:
        denoiser = runtime.denoiser(current_app.extensions["pixtools.settings"])
    except WeightsError as exc:
        raise StepFailed(str(exc)) from None
    return denoiser.denoise(image, strength=params.strength, progress=progress)


OPERATION = Operation(
    name="denoise",
    summary="Remove noise with the DnCNN neural network (slow: about a second per megapixel).",
    params=DenoiseParams,
    apply=denoise,
    queue="ml",
)
