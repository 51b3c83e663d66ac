"""Image formats PixTools reads and writes, their MIME types and file extensions."""

from __future__ import annotations

# What uploads may be, by content (Pillow's format names); anything else is refused.
INPUT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "GIF", "TIFF", "BMP", "HEIF"})
ACCEPTED = "JPEG, PNG, WebP, AVIF, GIF, TIFF, BMP or HEIC"
# What outputs may be: our lower-case names and Pillow's.
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF", "gif": "GIF"}
ANIMATED_FORMATS = frozenset({"gif", "webp", "png", "avif"})
CONTENT_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif",
    "gif": "image/gif",
}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}
CONTENT_TYPE_BY_EXTENSION = {EXTENSIONS[fmt]: CONTENT_TYPES[fmt] for fmt in EXTENSIONS}


def output_format_for(source_format: str) -> str:
    """The format of an output without a convert step: the source's when it can be written,
    JPEG for HEIC photos, else PNG."""
    if source_format in OUTPUT_FORMATS:
        return source_format
    return "jpeg" if source_format == "heif" else "png"


def format_name(pillow_format: str) -> str:
    """Our lower-case name for a Pillow format, e.g. ``"JPEG"`` → ``"jpeg"``."""
    return pillow_format.lower()
