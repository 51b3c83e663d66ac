"""The page's recipe form: controls built from the operation registry, read back as a recipe.

Every operation in ``operations.REGISTRY`` shows up without template changes: the
parameters it declares (``Operation.describe()``) choose its controls. ``convert`` is
special only in that each chosen format becomes an output of its own, with its own quality
slider ("Best format", format auto, has a look to reach instead); every other operation is
a step shared by all outputs. The recipe is then checked by ``jobs.prepare`` exactly like
an API recipe, and its errors are put back on the controls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from .. import jobs, operations
from ..errors import PixToolsError
from . import steps
from .controls import Control
from .steps import StepSection

# Formats whose encoder has no quality setting: they get no slider.
LOSSLESS_FORMATS = frozenset({"png"})
DEFAULT_FORMATS = frozenset({"webp"})
# "Best format" (format auto): a look to reach instead of a quality, among the formats the
# browser shows (the page fills them in; without JavaScript, from the Accept header).
AUTO = "auto"
SHOWN_BY_EVERY_BROWSER = ("webp", "jpeg")
# Fields of the convert step that belong to the "Best format" tile, not to every output.
AUTO_FIELDS = ("quality_target", "candidates")
LOOK = {
    "name": "quality_target", "type": "choice", "required": False, "default": "high",
    "choices": ["high", "medium", "low"],
    "description": "How close to the original it must look (SSIMULACRA 2: 70, 50, 30).",
}

AUTO_ORIENT = {
    "name": "auto_orient", "type": "boolean", "required": False, "default": True,
    "description": "Turn photos the right way up using their camera orientation.",
}
WEBHOOK_URL = {
    "name": "webhook_url", "type": "string", "required": False, "default": None,
    "description": "Optional: PixTools calls this URL when a job ends.",
}


@dataclass
class FormatOption:
    name: str
    checked: bool
    quality: Control | None
    label: str = ""
    look: Control | None = None  # "Best format" only: the quality target
    candidates: str = ""  # "Best format" only: e.g. "avif, webp, jpeg"

    @property
    def candidate_list(self) -> list[str]:
        return [name for name in re.split(r"[,\s]+", self.candidates.lower()) if name]


@dataclass
class RecipeForm:
    formats: list[FormatOption]
    encoding: list[Control]
    steps: list[StepSection]
    auto_orient: Control
    webhook_url: Control
    errors: dict[str, str] = field(default_factory=dict)
    # Where each recipe field came from, so parse errors land on the right control.
    _origin: dict[str, Control | StepSection | str] = field(default_factory=dict)

    def controls(self) -> Iterator[Control]:
        for option in self.formats:
            if option.quality:
                yield option.quality
            if option.look:
                yield option.look
        yield from self.encoding
        for step in self.steps:
            yield step.toggle
            yield from step.controls
        yield self.auto_orient
        yield self.webhook_url

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(c.error for c in self.controls()) or any(
            s.error for s in self.steps
        )

    @property
    def format_error(self) -> str | None:
        return self.errors.get("format")

    def recipe_text(self) -> str | None:
        """The recipe as JSON, or ``None`` with the errors put on their controls."""
        chosen = [option for option in self.formats if option.checked]
        if not chosen:
            self.errors["format"] = "Choose at least one output format."
        shared = [s for s in self.steps if s.active]
        shared_params = [(s, s.params()) for s in shared]
        encoding = {c.param["name"]: c.value() for c in self.encoding if c.changed}
        auto_orient = self.auto_orient.value()
        if self.has_errors:
            return None
        outputs = []
        for index, option in enumerate(chosen):
            steps: list[dict[str, Any]] = []
            for position, (section, params) in enumerate(shared_params):
                where = f"outputs.{index}.steps.{position}"
                self._origin[where] = section
                for control in section.controls:
                    self._origin[f"{where}.{control.param['name']}"] = control
                steps.append({"op": section.op, **params})
            where = f"outputs.{index}.steps.{len(steps)}"
            convert: dict[str, Any] = {"op": operations.encoding_op().name,
                                       "format": option.name, **encoding}
            self._origin[where] = self._origin[f"{where}.format"] = "format"
            for control in self.encoding:
                self._origin[f"{where}.{control.param['name']}"] = control
            if option.quality is not None:
                convert["quality"] = option.quality.value()
                self._origin[f"{where}.quality"] = option.quality
            if option.look is not None:
                convert.update(quality_target=option.look.value(),
                               candidates=option.candidate_list)
                self._origin[f"{where}.quality_target"] = option.look
            steps.append(convert)
            outputs.append({"steps": steps})
        return json.dumps({"outputs": outputs, "auto_orient": auto_orient})

    def order(self, *, owner: str, webhook_urls: list[str], base_url: str) -> jobs.Order | None:
        """The submission checked by ``jobs.prepare`` (as an API request is), or None with
        every error put on the control it came from."""
        text = self.recipe_text()
        if text is None:
            return None
        try:
            return jobs.prepare(owner=owner, recipe=text, webhook_urls=webhook_urls,
                                base_url=base_url)
        except PixToolsError as exc:
            self.attach(exc)
            return None

    def attach(self, exc: PixToolsError) -> None:
        """Show ``exc`` next to the control (or section) its field came from."""
        path = exc.field or ""
        message = exc.message.removeprefix(f"{path}: ")
        message = message[:1].upper() + message[1:]
        parts = path.split(".")
        while parts:
            origin = self._origin.get(".".join(parts))
            if isinstance(origin, Control):
                origin.error = message
                return
            if isinstance(origin, StepSection):
                origin.error = message
                return
            if isinstance(origin, str):
                self.errors[origin] = message
                return
            parts.pop()
        target = "webhook_url" if path == "webhook_url" else "general"
        if target == "webhook_url":
            self.webhook_url.error = message
        else:
            self.errors["general"] = message


def build(form: MultiDict[str, str] | None = None, *,
          shown_formats: Sequence[str] = SHOWN_BY_EVERY_BROWSER) -> RecipeForm:
    """The form with the values of a submitted ``form`` (or the defaults when ``None``);
    ``shown_formats``: what "Best format" may choose from until the page probes them."""

    def raw(name: str) -> str | None:
        if form is None:
            return None
        value = form.get(name)
        return "" if value is None else str(value)

    encoder = operations.encoding_op()  # its formats become outputs, each with its quality
    convert = encoder.describe()
    params = {p["name"]: p for p in convert["params"]}
    chosen = set(form.getlist("format")) if form is not None else DEFAULT_FORMATS
    formats = _format_options(params, raw, chosen, shown_formats)
    encoding = [
        Control(f"{encoder.name}.{name}", param, raw(f"{encoder.name}.{name}"))
        for name, param in params.items() if name not in ("format", "quality", *AUTO_FIELDS)
    ]
    # The builder marks its forms: then only its listed steps were sent, and the others
    # show their defaults (a form without the mark sent every section).
    listed = form.getlist("step") if form is not None else []
    builder = form is not None and form.get("builder") == "1"
    sections = steps.arrange([
        steps.section(op, raw if not builder or op.name in listed else steps.untouched)
        for op in steps.ordered_ops()], listed)
    auto_orient = Control("auto_orient", AUTO_ORIENT, raw("auto_orient"), label="Auto-orient")
    webhook = Control("webhook_url", WEBHOOK_URL, raw("webhook_url"), label="Webhook URL")
    built = RecipeForm(formats=formats, encoding=encoding, steps=sections,
                       auto_orient=auto_orient, webhook_url=webhook)
    unknown = sorted(set(listed) - {section.op for section in sections})
    if unknown:
        built.errors["general"] = (f"Unknown step {', '.join(unknown)}: choose from "
                                   + ", ".join(section.op for section in sections) + ".")
    return built


def _format_options(params: dict[str, Any], raw: Callable[[str], str | None],
                    chosen: AbstractSet[str], shown_formats: Sequence[str]) -> list[FormatOption]:
    """One tile per format: a quality slider for the lossy ones, a look for "Best format"."""
    encoder = operations.encoding_op().name
    formats = []
    for name in params["format"]["choices"]:
        if name == AUTO:
            look = Control(f"{encoder}.quality_target", LOOK,
                           raw(f"{encoder}.quality_target") or None, label="Look")
            formats.append(FormatOption(
                name=name, checked=name in chosen, quality=None, label="Best format",
                look=look, candidates=raw(f"{encoder}.candidates") or ", ".join(shown_formats)))
            continue
        quality = None
        if "quality" in params and name not in LOSSLESS_FORMATS:
            # The tile names the format already; the slider needs no longer explanation.
            control_name = f"{encoder}.quality.{name}"
            quality = Control(control_name, {**params["quality"], "description": ""},
                              raw(control_name) or None, label="Quality")
        formats.append(FormatOption(name=name, checked=name in chosen, quality=quality,
                                    label=name.upper()))
    return formats
