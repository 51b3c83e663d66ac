"""Colour at the decode boundary: every mode becomes 8-bit L, LA, RGB or RGBA, in sRGB.

Operations only ever see those four modes. Embedded ICC profiles are either converted to
sRGB here (the default, so that browsers show the colours the camera meant) or kept, in
which case the profile travels with the picture and is written into the output.
"""

from __future__ import annotations

import io
import logging
from typing import Literal

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

ColourPolicy = Literal["srgb", "keep"]
WORKING_MODES = ("L", "LA", "RGB", "RGBA")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# The colour space an ICC profile must describe to belong to pixels of a mode.
_SPACE_FOR_MODE = {"L": "GRAY", "LA": "GRAY", "RGB": "RGB", "RGBA": "RGB", "P": "RGB"}


def open_profile(icc: bytes | None) -> ImageCms.ImageCmsProfile | None:
    """The profile, or None when there is none or it is unreadable."""
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def profile_name(icc: bytes | None) -> str | None:
    profile = open_profile(icc)
    if profile is None:
        return None
    try:
        return ImageCms.getProfileDescription(profile).strip() or None
    except ImageCms.PyCMSError:
        return None


def profile_space(icc: bytes | None) -> str | None:
    """``"RGB"``, ``"GRAY"``, ``"CMYK"``… for a readable profile."""
    profile = open_profile(icc)
    return profile.profile.xcolor_space.strip() if profile is not None else None


def profile_fits(icc: bytes | None, mode: str) -> bool:
    """Whether ``icc`` may be embedded in an image of ``mode`` (an RGB profile on a grey
    image, for instance, would make viewers misread every pixel)."""
    return bool(icc) and profile_space(icc) == _SPACE_FOR_MODE.get(mode)


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    try:
        return "srgb" in ImageCms.getProfileDescription(profile).lower()
    except ImageCms.PyCMSError:
        return False


def to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to 8-bit by scaling, not clipping (Pillow's own conversion
    clips everything above 255 to white)."""
    values = np.asarray(image)
    if image.mode == "F":
        scale = 255.0 if float(values.max(initial=0.0)) <= 1.0 else 1.0
        eight = np.clip(values * scale + 0.5, 0, 255)
    elif image.mode == "I" and int(values.max(initial=0)) <= 255:
        eight = np.clip(values, 0, 255)
    else:
        # 0–65535 to 0–255 with rounding: 65535 / 257 = 255 exactly.
        eight = (np.clip(values, 0, 65535).astype(np.uint32) + 128) // 257
    return Image.fromarray(eight.astype(np.uint8), "L")


def to_working_mode(image: Image.Image) -> Image.Image:
    """Any Pillow mode to L, LA, RGB or RGBA, keeping transparency (no profile handling)."""
    mode = image.mode
    if mode in WORKING_MODES:
        return image
    if mode in _SIXTEEN_BIT or mode == "F":
        return to_8bit(image)
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        # Palette transparency (tRNS or an RGBA palette) must survive as real alpha.
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode in ("RGBa", "RGBX"):
        return image.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        return ImageCms.profileToProfile(image, lab, ImageCms.createProfile("sRGB"),
                                         outputMode="RGB") or image.convert("RGB")
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


class ColourConverter:
    """Brings frames of one source into working mode and, by policy, into sRGB.

    One converter per source, so an animation builds its colour transform once.
    ``icc`` is the profile the converted pixels are in: None means sRGB.
    """

    def __init__(self, icc: bytes | None, policy: ColourPolicy) -> None:
        self.source_icc = icc or None
        self.policy = policy
        self.icc: bytes | None = None
        self._transforms: dict[tuple[str, str], ImageCms.ImageCmsTransform | None] = {}

    def __call__(self, image: Image.Image) -> Image.Image:
        profile = open_profile(self.source_icc)
        if image.mode == "CMYK":
            # CMYK cannot be kept in any web format: always to sRGB, through the embedded
            # profile when there is one, else by Pillow's standard formula.
            converted = self._transform(image, profile, "CMYK", "RGB") if profile else None
            return converted or image.convert("RGB")
        image = to_working_mode(image)
        if profile is None:
            return image
        if not profile_fits(self.source_icc, image.mode):
            log.warning("ignoring an embedded colour profile that does not fit the pixels")
            return image
        if self.policy == "keep":
            self.icc = self.source_icc
            return image
        if _is_srgb(profile):
            return image
        return self._to_srgb(image, profile)

    def _to_srgb(self, image: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image:
        alpha = image.getchannel("A") if image.mode in ("LA", "RGBA") else None
        colour = image.convert(image.mode.removesuffix("A")) if alpha else image
        converted = self._transform(colour, profile, colour.mode, "RGB")
        if converted is None:
            return image
        if colour.mode == "L":
            # A grey profile converted to sRGB gives R = G = B: keep the image grey.
            converted = converted.getchannel("R")
        if alpha is not None:
            converted.putalpha(alpha)
        return converted

    def _transform(self, image: Image.Image, profile: ImageCms.ImageCmsProfile,
                   in_mode: str, out_mode: str) -> Image.Image | None:
        key = (in_mode, out_mode)
        if key not in self._transforms:
            try:
                self._transforms[key] = ImageCms.buildTransform(
                    profile, ImageCms.createProfile("sRGB"), in_mode, out_mode,
                    renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                )
            except ImageCms.PyCMSError:
                log.warning("an embedded colour profile could not be used; colours kept as is")
                self._transforms[key] = None
        transform = self._transforms[key]
        if transform is None:
            return None
        result = ImageCms.applyTransform(image, transform)
        return result if result is not None else image
