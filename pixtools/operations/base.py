"""What an operation is: a name, declared parameters, and a pure function image → image."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image, ImageColor
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..embedded import Embedded

Queue = Literal["standard", "ml"]
Progress = Callable[[float], None]


class Params(BaseModel):
    """Base for every operation's parameters: unknown fields are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _colour(value: str) -> str:
    if value.strip().lower() == "transparent":
        return "transparent"
    try:
        ImageColor.getrgb(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a colour: use a name such as white, #rrggbb or rgb(r, g, b)"
        ) from None
    return value


def _opaque_colour(value: str) -> str:
    if _colour(value) == "transparent":
        raise ValueError("this colour must be opaque: use a name such as white or #rrggbb")
    return value


# Colours are kept as the user wrote them (JSON-friendly) and checked by Pillow's parser.
Colour = Annotated[str, AfterValidator(_colour), Field(json_schema_extra={"format": "color"})]
OpaqueColour = Annotated[
    str, AfterValidator(_opaque_colour), Field(json_schema_extra={"format": "color"})
]


def rgba(value: str) -> tuple[int, int, int, int]:
    """A validated ``Colour`` as an RGBA tuple (``transparent`` is (0, 0, 0, 0))."""
    if value == "transparent":
        return (0, 0, 0, 0)
    colour = ImageColor.getrgb(value)
    return (colour[0], colour[1], colour[2], colour[3] if len(colour) == 4 else 255)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("LA", "RGBA")


@dataclass(frozen=True)
class Operation:
    """One image operation.

    ``apply(image, params, progress)`` returns a new image; it never touches storage,
    the database or metrics (the runner owns those). ``progress`` takes a fraction 0–1
    for operations slow enough to report it. Optional hooks:

    - ``apply_frames`` handles all frames of an animation at once (default: ``apply`` on
      each frame), for operations that must decide once for every frame;
    - ``size_hint(upright size, params)`` gives the smallest size the source may be decoded
      at when this is the first step (JPEG draft decoding), or None;
    - ``report(source metadata, params)`` returns JSON attached to the output's details.
    """

    name: str
    summary: str
    params: type[Params]
    apply: Callable[[Image.Image, Any, Progress], Image.Image]
    queue: Queue = "standard"
    apply_frames: Callable[[list[Image.Image], Any, Progress], list[Image.Image]] | None = None
    size_hint: Callable[[tuple[int, int], Any], tuple[int, int] | None] | None = None
    report: Callable[[Embedded, Any], dict[str, Any]] | None = None

    def run(self, frames: Sequence[Image.Image], params: Any,
            progress: Progress) -> list[Image.Image]:
        """Apply to a still (one frame) or to every frame of an animation."""
        frames = list(frames)
        if len(frames) > 1 and self.apply_frames is not None:
            return self.apply_frames(frames, params, progress)
        count = len(frames)
        results = []
        for index, frame in enumerate(frames):
            def frame_progress(fraction: float, index: int = index) -> None:
                progress((index + fraction) / count)

            results.append(self.apply(frame, params, frame_progress))
        return results

    def describe(self) -> dict[str, Any]:
        """The operation and its parameters as JSON, for ``GET /api/v1/operations``."""
        return {
            "name": self.name,
            "summary": self.summary,
            "queue": self.queue,
            "params": describe_params(self.params),
        }


def describe_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A pydantic model's fields as the JSON list the API and the page use."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        _describe_param(name, prop, name in required)
        for name, prop in schema.get("properties", {}).items()
    ]


def _describe_param(name: str, prop: dict[str, Any], required: bool) -> dict[str, Any]:
    # Optional values appear in the schema as anyOf [type, null]; flatten to the real type.
    variants = [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]
    kind = variants[0] if variants else {}
    described: dict[str, Any] = {
        "name": name,
        "type": kind.get("type", "string"),
        "required": required,
        "default": prop.get("default"),
        "description": prop.get("description", ""),
    }
    if "enum" in kind:
        described["type"] = "choice"
        described["choices"] = kind["enum"]
    elif "const" in kind:
        described["type"] = "choice"
        described["choices"] = [kind["const"]]
    for key in ("minimum", "maximum"):
        if key in kind:
            described[key] = kind[key]
    if "format" in kind or "format" in prop:
        described["format"] = kind.get("format", prop.get("format"))
    return described
