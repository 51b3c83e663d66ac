"""denoise: remove noise with FFDNet (told the noise level, estimated or given) or DnCNN
(colour, blind). Runs on the ml queue only.

The models are loaded once per process by ``pixtools.ml.runtime``; importing this module
does not import torch, so the web app and the standard workers never load it. What ran
(model, noise level, whether it was estimated) goes to the output's details.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import Field, model_validator

from ..errors import StepFailed
from ..ml import pixels, runtime
from ..ml.weights import WeightsError
from .base import DETAILS_KEY, Operation, Params, Progress

# sigma on the 0-255 scale; the FFDNet models were trained up to 75.
MAX_NOISE_LEVEL = 75
# The names the details use for each network.
LABELS = {"dncnn": "dncnn", "ffdnet": "ffdnet", "ffdnet_clip": "ffdnet-clip"}


# Strict: true or "20" are mistakes, not 1 and 20.
Level = Annotated[float, Field(ge=0, le=MAX_NOISE_LEVEL, strict=True)]


class DenoiseParams(Params):
    strength: float = Field(
        1.0, ge=0, le=1, description="Blend of denoised over original: 0 none, 1 full."
    )
    model: Literal["auto", "ffdnet", "dncnn"] = Field(
        "auto", description="auto: FFDNet (its clipped-noise variant for 8-bit images), or "
        "DnCNN when FFDNet's weights are missing; dncnn: the blind DnCNN-B.")
    noise_level: Level | Literal["auto"] = Field(
        "auto", description="Noise sigma on the 0-255 scale, 0-75; auto: estimated from the "
        "image. FFDNet only (DnCNN is blind).")

    @model_validator(mode="after")
    def _blind_dncnn(self) -> DenoiseParams:
        if self.model == "dncnn" and self.noise_level != "auto":
            raise ValueError("noise_level: DnCNN is blind and takes no noise level; "
                             "use model auto or ffdnet to set one")
        return self


def _ffdnet_kind(image: Image.Image) -> str:
    """The clipped-noise model for 8-bit pixels (what an upload holds), else the plain one."""
    return "ffdnet" if pixels.normalise_mode(image).mode == "I;16" else "ffdnet_clip"


def _network(params: DenoiseParams, image: Image.Image) -> tuple[Any, str, str | None]:
    """(the loaded denoiser, its kind, why auto fell back to DnCNN or None)."""
    kind = "dncnn" if params.model == "dncnn" else _ffdnet_kind(image)
    try:
        return runtime.current(kind), kind, None
    except WeightsError as exc:
        if params.model != "auto" or kind == "dncnn":
            raise StepFailed(str(exc)) from None
        reason = f"FFDNet unavailable ({exc}), so DnCNN ran instead"
    try:
        return runtime.current("dncnn"), "dncnn", reason
    except WeightsError as exc:
        raise StepFailed(f"{reason}, but: {exc}") from None


def denoise(image: Image.Image, params: DenoiseParams, progress: Progress) -> Image.Image:
    network, kind, fallback = _network(params, image)
    estimated = params.noise_level == "auto"
    sigma = pixels.estimate_sigma(image) if estimated else float(params.noise_level)
    # Estimates beyond the trained range are clamped; DnCNN ignores sigma (it is blind).
    sigma = min(sigma, MAX_NOISE_LEVEL)
    result: Image.Image = network.denoise(image, strength=params.strength, progress=progress,
                                          sigma=sigma)
    details: dict[str, Any] = {"model": LABELS[kind], "noise_level": round(sigma, 1),
                               "estimated": estimated}
    if fallback:
        details["fallback"] = fallback
    result.info[DETAILS_KEY] = details
    return result


OPERATION = Operation(
    name="denoise",
    summary="Remove noise with a neural network: FFDNet at an estimated or chosen noise "
            "level, or DnCNN (a few seconds per megapixel).",
    params=DenoiseParams,
    apply=denoise,
    queue="ml",
    compare=True,
    form_rank=0,
    throughput_metric=True,
)
