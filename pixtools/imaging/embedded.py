"""Metadata embedded in image files: read it, report it, and decide what an output carries.

Outputs carry nothing by default (``strip``); ``copyright`` keeps the author and copyright
notice only; ``keep`` keeps EXIF, XMP and IPTC. GPS coordinates appear only in the report
that the ``metadata`` operation attaches to an output, never in logs.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

from PIL import ExifTags, Image

from . import colour

MetadataPolicy = Literal["strip", "copyright", "keep"]

ORIENTATION, ARTIST, COPYRIGHT = 0x0112, 0x013B, 0x8298
MAKE, MODEL, DATE_TIME = 0x010F, 0x0110, 0x0132
IPTC_BYLINE, IPTC_COPYRIGHT = (2, 80), (2, 116)
_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_XMP_ORIENTATION = re.compile(rb"(tiff:Orientation(?:=\"|>))([0-9])")


@dataclass(frozen=True)
class Embedded:
    """What a source file carries besides its pixels, read once at decode."""

    format: str  # our lower-case name, e.g. "jpeg"
    width: int  # as stored, before orientation
    height: int
    orientation: int  # 1–8; 1 when absent or invalid
    exif: bytes | None
    xmp: bytes | None
    iptc: bytes | None  # IPTC-IIM records
    icc: bytes | None

    @property
    def upright_size(self) -> tuple[int, int]:
        swapped = self.orientation in (5, 6, 7, 8)
        return (self.height, self.width) if swapped else (self.width, self.height)


@dataclass(frozen=True)
class Written:
    """The metadata an output is written with."""

    exif: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None


def read(image: Image.Image, size: tuple[int, int] | None = None) -> Embedded:
    """``size``: the stored size, when the image was already decoded at reduced size."""
    exif = image.getexif()  # also picks up an orientation given only in XMP
    orientation = exif.get(ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    raw_exif = image.info.get("exif")
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    return Embedded(
        format=(image.format or "").lower(),
        width=(size or image.size)[0],
        height=(size or image.size)[1],
        orientation=orientation,
        exif=raw_exif if isinstance(raw_exif, bytes) and raw_exif else None,
        xmp=xmp.encode() if isinstance(xmp, str) else xmp or None,
        iptc=_iptc_raw(image),
        icc=image.info.get("icc_profile") or None,
    )


def _iptc_raw(image: Image.Image) -> bytes | None:
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict) and photoshop.get(0x0404):
        return bytes(photoshop[0x0404])
    tags = getattr(image, "tag_v2", None)
    value = tags.get(33723) if tags is not None else None  # TIFF's IPTC-NAA tag
    if isinstance(value, bytes):
        return value or None
    if isinstance(value, tuple) and value:
        return bytes(value) if isinstance(value[0], int) else b"".join(value)
    return None


def _iptc_records(data: bytes | None) -> dict[tuple[int, int], bytes]:
    records: dict[tuple[int, int], bytes] = {}
    offset = 0
    while data and offset + 5 <= len(data) and data[offset] == 0x1C:
        key = (data[offset + 1], data[offset + 2])
        size = int.from_bytes(data[offset + 3 : offset + 5], "big")
        if size & 0x8000:  # extended sizes are for binary records we never need
            break
        records.setdefault(key, data[offset + 5 : offset + 5 + size])
        offset += 5 + size
    return records


def _exif(data: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if data:
        try:
            exif.load(data)
        except (SyntaxError, ValueError, OSError, KeyError):
            return Image.Exif()  # damaged EXIF reads as none, never as a failed job
    return exif


def _xmp_values(xmp: bytes | None) -> dict[str, str]:
    if not xmp:
        return {}
    try:
        root = ET.fromstring(xmp.strip(b"\x00 \r\n\t"))
    except ET.ParseError:
        return {}
    values = {}
    for name, path in (("author", "dc:creator"), ("copyright", "dc:rights")):
        item = root.find(f".//{path}//rdf:li", _XMP_NS)
        if item is not None and item.text and item.text.strip():
            values[name] = item.text.strip()
    return values


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        # Pillow reads EXIF text as Latin-1; cameras and editors mostly write UTF-8.
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            value = value.encode("latin-1").decode("utf-8")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip() or None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(number, 6) if number == number else None  # NaN from 0/0 rationals


def credits(embedded: Embedded) -> dict[str, str]:
    """Author and copyright notice, from EXIF, else XMP, else IPTC."""
    exif = _exif(embedded.exif)
    xmp = _xmp_values(embedded.xmp)
    iptc = _iptc_records(embedded.iptc)
    found = {
        "author": _text(exif.get(ARTIST)) or xmp.get("author") or _text(iptc.get(IPTC_BYLINE)),
        "copyright": _text(exif.get(COPYRIGHT)) or xmp.get("copyright")
        or _text(iptc.get(IPTC_COPYRIGHT)),
    }
    return {key: value for key, value in found.items() if value}


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    sign = -1 if _text(ref) in ("S", "W") else 1
    return round(sign * (degrees + minutes / 60 + seconds / 3600), 7)


def _gps(exif: Image.Exif, xmp: bytes | None) -> dict[str, Any]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return {"present": bool(xmp and b"GPSLatitude" in xmp)}
    found: dict[str, Any] = {"present": True}
    latitude = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
    longitude = _degrees(gps.get(ExifTags.GPS.GPSLongitude),
                         gps.get(ExifTags.GPS.GPSLongitudeRef))
    if latitude is not None and longitude is not None:
        found.update(latitude=latitude, longitude=longitude)
    altitude = _number(gps.get(ExifTags.GPS.GPSAltitude))
    if altitude is not None:
        below_sea = gps.get(ExifTags.GPS.GPSAltitudeRef) in (1, b"\x01")
        found["altitude_m"] = -altitude if below_sea else altitude
    return found


def _exposure(details: dict[int, Any]) -> dict[str, Any]:
    exposure: dict[str, Any] = {}
    seconds = _number(details.get(ExifTags.Base.ExposureTime))
    if seconds:
        exposure["time"] = f"1/{round(1 / seconds)}" if seconds < 1 else f"{seconds:g}"
    for key, tag in (("f_number", ExifTags.Base.FNumber),
                     ("focal_length_mm", ExifTags.Base.FocalLength)):
        number = _number(details.get(tag))
        if number:
            exposure[key] = number
    iso = details.get(ExifTags.Base.ISOSpeedRatings)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    if isinstance(iso, int):
        exposure["iso"] = iso
    return exposure


def _date(value: Any) -> str | None:
    text = _text(value)
    match = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}:\d{2}:\d{2})", text or "")
    return f"{match[1]}-{match[2]}-{match[3]}T{match[4]}" if match else text


def report(embedded: Embedded) -> dict[str, Any]:
    """The source's metadata as JSON: what the ``metadata`` operation attaches."""
    exif = _exif(embedded.exif)
    details = exif.get_ifd(ExifTags.IFD.Exif)
    width, height = embedded.upright_size
    make, model = _text(exif.get(MAKE)), _text(exif.get(MODEL))
    lens = _text(details.get(ExifTags.Base.LensModel))
    lens_make = _text(details.get(ExifTags.Base.LensMake))
    if lens and lens_make and not lens.startswith(lens_make):
        lens = f"{lens_make} {lens}"
    taken = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(DATE_TIME)
    return {
        "format": embedded.format,
        "width": width,
        "height": height,
        "orientation": embedded.orientation,
        "camera": {"make": make, "model": model} if make or model else None,
        "lens": lens,
        "exposure": _exposure(details),
        "taken_at": _date(taken),
        **{"author": None, "copyright": None, **credits(embedded)},
        "colour_profile": colour.profile_name(embedded.icc),
        "gps": _gps(exif, embedded.xmp),
        "embedded": {
            "exif": embedded.exif is not None,
            "xmp": embedded.xmp is not None,
            "iptc": embedded.iptc is not None,
            "icc": embedded.icc is not None,
        },
    }


def for_output(embedded: Embedded | None, policy: MetadataPolicy, *, oriented: bool) -> Written:
    """What an output carries. ``oriented``: the EXIF orientation was applied to the pixels,
    so writing it again would turn the picture a second time."""
    if embedded is None:
        return Written()
    if policy == "keep":
        exif = _exif(embedded.exif)
        xmp = embedded.xmp
        if oriented:
            exif.pop(ORIENTATION, None)
            xmp = _XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if xmp else None
        return Written(exif=exif.tobytes() if len(exif) else None, xmp=xmp, iptc=embedded.iptc)
    exif = Image.Exif()
    if policy == "copyright":
        found = credits(embedded)
        # As UTF-8 bytes: Pillow would turn every non-ASCII letter (©, é) into "?".
        if "author" in found:
            exif[ARTIST] = found["author"].encode()
        if "copyright" in found:
            exif[COPYRIGHT] = found["copyright"].encode()
    if not oriented and embedded.orientation != 1:
        # The pixels were left as stored: the tag is what turns them upright in a viewer.
        exif[ORIENTATION] = embedded.orientation
    return Written(exif=exif.tobytes() if len(exif) else None)


def jpeg_iptc_segment(iptc: bytes) -> bytes:
    """An APP13 segment (Photoshop resource 0x0404) carrying IPTC records in a JPEG;
    empty when the records are too large for one segment."""
    if len(iptc) > 65_000:
        return b""
    resource = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc
    payload = b"Photoshop 3.0\x00" + resource + (b"\x00" if len(iptc) % 2 else b"")
    return b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload
