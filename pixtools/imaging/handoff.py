"""Handing a picture from one queue to the other: lossless PNG (APNG for animations).

The file carries what the next steps and the final encode need besides the pixels: the
loop count, the notes for the user, what earlier steps said about their run (details),
how many frames the source had, and the colour
profile the pixels are in when the recipe keeps it. Orientation and colour were settled
when the source was decoded, so reading a handoff changes neither again.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import ImageSequence
from PIL.PngImagePlugin import PngInfo

from .colour import to_working_mode
from .decode import check_limits, load, open_image
from .picture import Limits, Picture, unify

# Key of the PNG text chunk that carries the picture's state.
STATE_KEY = "pixtools"


def encode(picture: Picture) -> bytes:
    """The picture as lossless PNG (APNG for animations) for the step on the other queue,
    with its state (loop, notes, frame count) and kept profile, so nothing is lost."""
    frames = unify([to_working_mode(frame) for frame in picture.frames])
    state = {"loop": picture.loop, "source_frames": picture.source_frames,
             "notes": picture.notes, "details": picture.details}
    text = PngInfo()
    text.add_text(STATE_KEY, json.dumps(state))
    kwargs: dict[str, Any] = {"compress_level": 1, "pnginfo": text}
    if picture.icc:
        kwargs["icc_profile"] = picture.icc
    if len(frames) > 1:
        kwargs.update(save_all=True, append_images=frames[1:], duration=picture.durations,
                      loop=0)
    for frame in frames:
        frame.info = {}
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def decode(data: bytes, limits: Limits) -> Picture:
    """Read back what ``encode`` stored: no orientation or colour change again."""
    image = open_image(data)
    check_limits(*image.size, limits)
    load(image)
    state = json.loads(image.info.get(STATE_KEY) or "{}")
    icc = image.info.get("icc_profile") or None
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        frames.append(to_working_mode(frame).copy())
        durations.append(round(frame.info.get("duration") or 100))
    return Picture(
        frames=unify(frames),
        durations=durations if len(frames) > 1 else [],
        loop=state.get("loop"),
        icc=icc,
        source_frames=state.get("source_frames", 1),
        notes=list(state.get("notes", [])),
        details=dict(state.get("details", {})),
    )
