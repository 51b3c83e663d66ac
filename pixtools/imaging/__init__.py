"""Everything that touches image bytes: decode, colour, embedded metadata, encode, handoff.

Operations work on decoded ``PIL.Image`` frames only; this package is the boundary. Plain
Python over Pillow: it imports neither Flask nor SQLAlchemy.

- ``formats``: what is read and written, MIME types and extensions;
- ``picture``: a decoded image (``Picture``) and the ``Limits`` a decode is held to;
- ``decode``: bytes → upright, 8-bit, sRGB pixels (or a clear rejection);
- ``colour`` and ``embedded``: ICC profiles, and EXIF/XMP/IPTC read and written;
- ``encode``: pixels → bytes, with exactly the metadata an output may carry;
- ``handoff``: a picture stored losslessly between the two queues.
"""

from .decode import (
    check_limits,
    count_frames,
    decode,
    decode_picture,
    inspect,
    load,
    open_image,
    read_embedded,
)
from .encode import encode, encode_picture, jpeg_with_metadata
from .formats import (
    ACCEPTED,
    ANIMATED_FORMATS,
    CONTENT_TYPE_BY_EXTENSION,
    CONTENT_TYPES,
    EXTENSIONS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    format_name,
    output_format_for,
)
from .picture import ImageInfo, Limits, Picture, SizeHint, unify

__all__ = [
    "ACCEPTED", "ANIMATED_FORMATS", "CONTENT_TYPES", "CONTENT_TYPE_BY_EXTENSION", "EXTENSIONS",
    "INPUT_FORMATS", "OUTPUT_FORMATS", "ImageInfo", "Limits", "Picture", "SizeHint",
    "check_limits", "count_frames", "decode", "decode_picture", "encode", "encode_picture",
    "format_name", "inspect", "jpeg_with_metadata", "load", "open_image", "output_format_for",
    "read_embedded",
    "unify",
]
