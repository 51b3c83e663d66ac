"""Image modes the denoisers handle natively (Pillow and numpy only, no torch)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixtools.ml import noise

# Modes whose ICC profile no longer describes the pixels once converted to RGB.
_NON_RGB_PROFILE_MODES = ("CMYK", "LAB", "HSV", "YCbCr")


def normalise_mode(image: Image.Image) -> Image.Image:
    """Return the image in a mode ``denoise`` handles natively."""
    if image.mode in ("RGB", "RGBA", "L", "LA", "I;16"):
        return image
    if image.mode.startswith("I;16"):
        # Byte-order variants; Pillow's own conversion to I;16 clips at 255.
        converted = Image.fromarray(np.asarray(image).astype(np.uint16))
        converted.info.update(image.info)
        return converted
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    converted = image.convert("RGBA" if has_alpha else "RGB")
    converted.info.pop("transparency", None)
    if image.mode in _NON_RGB_PROFILE_MODES:
        converted.info.pop("icc_profile", None)
    return converted


def colour_base(image: Image.Image) -> Image.Image:
    """The image without its alpha channel, in a mode ``normalise_mode`` returns."""
    image = normalise_mode(image)
    if image.mode == "RGBA":
        return image.convert("RGB")
    if image.mode == "LA":
        return image.convert("L")
    return image


def white_of(pixels: np.ndarray) -> float:
    """The value of white: 65535 for 16-bit pixels, else 255."""
    return 65535.0 if pixels.dtype == np.uint16 else 255.0


def estimate_sigma(image: Image.Image) -> float:
    """The image's noise level on the 0-255 scale (Chen et al. 2015, ``noise``), from its
    colour (or grey) channels; alpha is ignored."""
    pixels = np.asarray(colour_base(image))
    return noise.estimate_sigma(pixels, white_of(pixels))
