"""Parse and validate a job recipe against the operation registry.

A recipe asks for one or more outputs, each a short list of steps, plus options that hold
for every output (``auto_orient``, ``colour``, ``metadata``; see ``RecipeOptions``)::

    {"outputs": [{"steps": [{"op": "resize", "width": 1024},
                            {"op": "convert", "format": "webp", "quality": 80}]}],
     "metadata": "copyright"}
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, create_model

from . import operations
from .errors import InvalidRecipe
from .imaging import ANIMATED_FORMATS, ImageInfo
from .operations import OutputLimits
from .operations.convert import ConvertParams

MAX_RECIPE_BYTES = 64 * 1024


@dataclass(frozen=True)
class StepSpec:
    op: str
    params: dict[str, Any]
    queue: str


class RecipeOptions(BaseModel):
    """Options of the whole recipe. Their defaults protect users: upright pixels, sRGB
    colours, and no EXIF/XMP/IPTC (so no GPS position) in any output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_orient: StrictBool = Field(
        True, description="Turn photos upright from their EXIF orientation."
    )
    colour: Literal["srgb", "keep"] = Field(
        "srgb",
        description="srgb: convert embedded colour profiles to sRGB, so every browser shows "
        "the same colours; keep: keep the pixels and embed the original profile.",
    )
    metadata: Literal["strip", "copyright", "keep"] = Field(
        "strip",
        description="What outputs carry: strip: no EXIF, XMP or IPTC at all; copyright: the "
        "author and copyright notice only; keep: all EXIF, XMP and IPTC (GPS included).",
    )


def options_of(stored: dict[str, Any] | None) -> RecipeOptions:
    """A job's stored options (jobs made before options existed have None: the defaults)."""
    return RecipeOptions.model_validate(stored or {})


@dataclass(frozen=True)
class Recipe:
    outputs: list[list[StepSpec]]
    options: RecipeOptions = field(default_factory=RecipeOptions)

    @property
    def auto_orient(self) -> bool:
        return self.options.auto_orient


def _field_path(prefix: str, loc: tuple[Any, ...]) -> str:
    # A parameter, then list positions; what follows names a member of a union of types
    # (e.g. "literal['auto']"), not a field a person wrote.
    parts = list(itertools.takewhile(lambda part: isinstance(part, int), loc[1:]))
    return ".".join([prefix, *(str(part) for part in loc[:1] + tuple(parts))]) if loc else prefix


def _message(exc: ValidationError, loc: tuple[Any, ...]) -> str:
    """The first error's message; for a value that may be one of several types (a number
    or "auto"), what each of them would have needed."""
    union = [e["msg"] for e in exc.errors()
             if e["loc"][:1] == loc[:1] and len(e["loc"]) > 1 and isinstance(e["loc"][1], str)]
    first = union[0] if union else exc.errors()[0]["msg"]
    message = first + "".join(f", or {m.removeprefix('Input should be ')}" for m in union[1:])
    return message.removeprefix("Value error, ")


def _parse_step(raw: Any, where: str) -> StepSpec:
    if not isinstance(raw, dict):
        raise InvalidRecipe(
            f'{where} must be an object like {{"op": "resize", ...}}.', field=where
        )
    params = dict(raw)
    name = params.pop("op", None)
    if not isinstance(name, str) or not name:
        raise InvalidRecipe(f"{where}.op is missing: name an operation.", field=f"{where}.op")
    if name not in operations.REGISTRY:
        known = ", ".join(sorted(operations.REGISTRY))
        raise InvalidRecipe(
            f"{where}.op: unknown operation {name!r}; choose one of {known}.", field=f"{where}.op"
        )
    operation = operations.REGISTRY[name]
    try:
        validated = operation.params.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _field_path(where, error["loc"])
        message = _message(exc, error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(operation.params.model_fields)
            message = f"{name} has no parameter {error['loc'][-1]!r} (it takes: {allowed})"
        raise InvalidRecipe(f"{field}: {message}.", field=field) from None
    return StepSpec(op=name, params=validated.model_dump(mode="json"), queue=operation.queue)


def parse(text: str | None, *, max_outputs: int, max_steps: int) -> Recipe:
    """Return the validated recipe or raise ``InvalidRecipe`` naming the bad field."""
    data = _load(text)
    known = ["outputs", *RecipeOptions.model_fields]
    unknown = set(data) - set(known)
    if unknown:
        raise InvalidRecipe(
            f"Unknown recipe field {sorted(unknown)[0]!r}: a recipe has "
            f"{', '.join(known[:-1])} and {known[-1]}.",
            field=sorted(unknown)[0],
        )
    options = _parse_options({key: value for key, value in data.items() if key != "outputs"})
    outputs = data.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise InvalidRecipe("outputs must be a non-empty list.", field="outputs")
    if len(outputs) > max_outputs:
        raise InvalidRecipe(
            f"outputs has {len(outputs)} entries; at most {max_outputs} are allowed.",
            field="outputs",
        )
    parsed = [_parse_output(output, f"outputs.{index}.steps", max_steps)
              for index, output in enumerate(outputs)]
    return Recipe(outputs=parsed, options=options)


def _load(text: str | None) -> dict[str, Any]:
    """The recipe's JSON object, or ``InvalidRecipe`` saying what is wrong with the text."""
    if text is None or not text.strip():
        raise InvalidRecipe(
            'The recipe is missing: send a "recipe" field such as '
            '{"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]}.',
            field="recipe",
        )
    if len(text.encode()) > MAX_RECIPE_BYTES:
        raise InvalidRecipe(
            f"The recipe is larger than {MAX_RECIPE_BYTES // 1024} KB.", field="recipe"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecipe(
            f"The recipe is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            field="recipe",
        ) from None
    except (RecursionError, ValueError):
        # Nesting too deep for the parser, or a number too long to convert: hostile input.
        raise InvalidRecipe(
            "The recipe is not a plain recipe: it nests too deeply or has an absurdly long "
            "number.",
            field="recipe",
        ) from None
    if not isinstance(data, dict):
        raise InvalidRecipe('The recipe must be a JSON object with "outputs".', field="recipe")
    return data


def _parse_output(output: Any, where: str, max_steps: int) -> list[StepSpec]:
    steps = output.get("steps") if isinstance(output, dict) else None
    if not isinstance(steps, list) or not steps:
        raise InvalidRecipe(f"{where} must be a non-empty list of steps.", field=where)
    if len(steps) > max_steps:
        raise InvalidRecipe(
            f"{where} has {len(steps)} steps; at most {max_steps} are allowed.", field=where
        )
    return [_parse_step(step, f"{where}.{i}") for i, step in enumerate(steps)]


def _parse_options(raw: dict[str, Any]) -> RecipeOptions:
    try:
        return RecipeOptions.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0])
        if name == "auto_orient":
            raise InvalidRecipe("auto_orient must be true or false.", field=name) from None
        raise InvalidRecipe(f"{name}: {error['msg']}.", field=name) from None


def check_limits(recipe: Recipe, limits: OutputLimits) -> None:
    """Refuse (422) what the parameters alone show to be over the output limits."""
    for index, steps in enumerate(recipe.outputs):
        for position, step in enumerate(steps):
            operation = operations.REGISTRY[step.op]
            if operation.check_params is None:
                continue
            refusal = operation.check_params(operation.params.model_validate(step.params),
                                             limits)
            if refusal is not None:
                where = f"outputs.{index}.steps.{position}"
                field = f"{where}.{refusal.field}" if refusal.field else where
                raise InvalidRecipe(f"{field}: {refusal.message}", field=field)



def check_source(recipe: Recipe, info: ImageInfo) -> None:
    """Refuse (422) what the recipe and the upload's header show together: an animation
    whose output may only end in formats that cannot animate (``format: auto``; a fixed
    format keeps its first frame, with a note, as it always has)."""
    if info.frames <= 1:
        return
    encoder = operations.encoding_op()
    for index, steps in enumerate(recipe.outputs):
        chosen = [(position, s) for position, s in enumerate(steps) if s.op == encoder.name]
        if not chosen or chosen[-1][1].params.get("format") != "auto":
            continue
        position, step = chosen[-1]
        params = ConvertParams.model_validate(step.params)
        if not any(fmt in ANIMATED_FORMATS for fmt in params.possible_formats):
            field = f"outputs.{index}.steps.{position}.candidates"
            raise InvalidRecipe(
                f"{field}: the image is animated ({info.frames} frames) and none of "
                f"{', '.join(params.possible_formats)} can hold an animation: add webp or "
                "avif to the candidates.", field=field)


@functools.lru_cache(maxsize=8)
def recipe_model(max_outputs: int, max_steps: int) -> type[BaseModel]:
    """The recipe as one model, for the API's OpenAPI document: each step is its operation's
    own parameter model (the one ``parse`` validates with) plus ``op``, chosen by ``op``; the
    options are ``RecipeOptions``. Limits are this instance's settings."""
    # Built at run time from the registry: typed as Any for the type checker.
    steps: list[Any] = []
    for name, operation in operations.REGISTRY.items():
        title = "".join(part.title() for part in name.split("_"))
        op: Any = Literal[name]
        steps.append(create_model(f"{title}Step", __base__=operation.params,
                                  __doc__=operation.summary,
                                  op=(op, Field(description="The operation."))))
    step: Any = Annotated[Union[tuple(steps)], Field(discriminator="op")]  # noqa: UP007
    output: Any = create_model(
        "RecipeOutput", __config__=ConfigDict(extra="forbid"),
        __doc__="One output: its steps, run in order on the upright, decoded image.",
        steps=(list[step], Field(min_length=1, max_length=max_steps)),
    )
    return create_model(
        "Recipe", __base__=RecipeOptions,
        __doc__="What to make of the upload: one or more outputs, and options for all of them.",
        outputs=(list[output], Field(min_length=1, max_length=max_outputs)),
    )
