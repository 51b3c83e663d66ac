"""denoise: remove sensor noise with DnCNN (colour, blind). Runs on the ml queue only.

The model is loaded once per process by ``pixtools.ml.runtime``, on first use; importing
this module does not import torch, so the web app and the standard workers never load it.
"""

from __future__ import annotations

from PIL import Image
from pydantic import Field

from ..errors import StepFailed
from ..ml import runtime
from ..ml.weights import WeightsError
from .base import Operation, Params, Progress


class DenoiseParams(Params):
    strength: float = Field(
        1.0, ge=0, le=1, description="Blend of denoised over original: 0 none, 1 full."
    )


def denoise(image: Image.Image, params: DenoiseParams, progress: Progress) -> Image.Image:
    try:
        denoiser = runtime.current()
    except WeightsError as exc:
        raise StepFailed(str(exc)) from None
    result: Image.Image = denoiser.denoise(image, strength=params.strength, progress=progress)
    return result


OPERATION = Operation(
    name="denoise",
    summary="Remove noise with the DnCNN neural network (slow: about a second per megapixel).",
    params=DenoiseParams,
    apply=denoise,
    queue="ml",
    compare=True,
    form_rank=0,
    throughput_metric=True,
)
