"""What an operation is: a name, declared parameters, a pure function image → image, and the
rules that belong to it (size prediction, form placement, compare, metric).

Plain Python over Pillow and pydantic: operations never touch storage, the database, the
web framework or metrics; the runner (``pixtools.tasks.runner``) owns those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image, ImageColor
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..imaging.embedded import Embedded

Queue = Literal["standard", "ml"]
# An operation that has something to say about what it did (which model ran, at what noise
# level) leaves a JSON-able dict under this key in its result's ``info``: the pipeline
# moves it into the output's details, under the operation's name.
DETAILS_KEY = "pixtools.details"
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
class OutputLimits:
    """How large a result may be (``PIXTOOLS_MAX_OUTPUT_SIDE``, ``…_PIXELS``)."""

    max_side: int
    max_pixels: int

    @classmethod
    def from_settings(cls, settings: Any) -> OutputLimits:
        return cls(settings.max_output_side, settings.max_output_pixels)

    def problem(self, width: int, height: int) -> str | None:
        """What is wrong with a result of this size, or None when it is allowed."""
        if width > self.max_side or height > self.max_side:
            return f"results may be at most {self.max_side} pixels a side"
        if width * height > self.max_pixels:
            return f"results may have at most {self.max_pixels / 1e6:g} megapixels"
        return None


@dataclass(frozen=True)
class Refusal:
    """Why a step's parameters alone are over the limits; ``field`` is the parameter to
    blame (None: the step as a whole)."""

    message: str
    field: str | None = None


@dataclass(frozen=True)
class Operation:
    """One image operation.

    ``apply(image, params, progress)`` returns a new image; it never touches storage,
    the database or metrics (the runner owns those). ``progress`` takes a fraction 0–1
    for operations slow enough to report it. Optional hooks and rules:

    - ``apply_frames`` handles all frames of an animation at once (default: ``apply`` on
      each frame), for operations that must decide once for every frame;
    - ``size_hint(upright size, params)`` gives the smallest size the source may be decoded
      at when this is the first step (JPEG draft decoding), or None;
    - ``predict_size(size, params)``: the largest image the operation allocates for an input
      of ``size`` — checked against the output limits before it runs (and for the whole
      recipe at submission), so an oversized result is refused before its memory is taken;
      None when the result is never larger than the input;
    - ``check_params(params, limits)``: what the parameters alone show to be over the
      limits, whatever the image (a ``Refusal``), or None;
    - ``report(source metadata, params)`` returns JSON attached to the output's details
      (what only the run knows goes in the result's ``info[DETAILS_KEY]`` instead);
    - ``compare``: its outputs are best judged beside the original (the page now shows
      that split view for every output; the flag is kept for callers that read it);
    - ``form_rank``: where the page's "+ Add step" menu lists it (lower first; the
      conversion is never a step there: it is the output formats);
    - ``throughput_metric``: its speed is recorded as
      ``pixtools_<name>_megapixels_per_second``;
    - ``encoding``: its parameters decide how the output is encoded (the last such step of
      an output wins; without one, an output keeps its source's format).
    """

    name: str
    summary: str
    params: type[Params]
    apply: Callable[[Image.Image, Any, Progress], Image.Image]
    queue: Queue = "standard"
    apply_frames: Callable[[list[Image.Image], Any, Progress], list[Image.Image]] | None = None
    size_hint: Callable[[tuple[int, int], Any], tuple[int, int] | None] | None = None
    predict_size: Callable[[tuple[int, int], Any], tuple[int, int]] | None = None
    check_params: Callable[[Any, OutputLimits], Refusal | None] | None = None
    report: Callable[[Embedded, Any], dict[str, Any]] | None = None
    compare: bool = False
    form_rank: int = 100
    throughput_metric: bool = False
    encoding: bool = False

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
    words = [w for v in variants for w in v.get("enum", [v["const"]] if "const" in v else [])]
    others = [v for v in variants if "enum" not in v and "const" not in v]
    kind = others[0] if others else variants[0] if variants else {}
    described: dict[str, Any] = {
        "name": name,
        "type": kind.get("type", "string"),
        "required": required,
        "default": prop.get("default"),
        "description": prop.get("description", ""),
    }
    if words and not others:
        described["type"] = "choice"
        described["choices"] = words
    elif words:
        # A value of its type or one of these words, e.g. a quality number or "auto".
        described["keywords"] = words
    for key in ("minimum", "maximum"):
        if key in kind:
            described[key] = kind[key]
    if "format" in kind or "format" in prop:
        described["format"] = kind.get("format", prop.get("format"))
    return described
