"""One form control per declared operation parameter, chosen from its type and range.

A ``Control`` keeps what the person typed (``raw``), turns it into a typed value for the
recipe, and carries the error shown next to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Numeric parameters with a default and a range at most this wide become sliders.
SLIDER_SPAN = 100
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _widget(param: Mapping[str, Any]) -> str:
    kind, default = param["type"], param.get("default")
    if kind == "boolean":
        return "checkbox"
    if kind == "choice":
        return "radio" if len(param["choices"]) <= 4 else "select"
    if kind in ("integer", "number"):
        low, high = param.get("minimum"), param.get("maximum")
        if default is None or low is None or high is None:
            return "number"
        if high - low > SLIDER_SPAN:
            return "number"
        # A number or a word such as "auto" that is the default: a slider with a switch.
        return "range-auto" if default in param.get("keywords", []) else "range"
    if kind == "string" and isinstance(default, str) and COLOUR.match(default):
        return "color"
    if kind == "array":
        return "list"
    return "url" if param["name"].endswith("url") else "text"


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


@dataclass
class Control:
    """One form control for one parameter; ``raw`` is what the person typed or chose."""

    name: str
    param: dict[str, Any]
    raw: str | None = None
    error: str | None = None
    label: str = ""
    widget: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or _label(self.param["name"])
        self.widget = self.widget or _widget(self.param)
        if self.raw is None and self.widget != "checkbox":
            default = self.param.get("default")
            self.raw = "" if default is None else self._show(default)

    @staticmethod
    def _show(value: Any) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value)
        return str(value)

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^a-zA-Z0-9_-]", "-", self.name)

    @property
    def default(self) -> Any:
        return self.param.get("default")

    @property
    def checked(self) -> bool:
        if self.raw is None:
            return bool(self.default)
        return self.raw not in ("", "0", "false", "off")

    @property
    def keyword(self) -> bool:
        """Whether a word (e.g. auto) is chosen rather than a value of the type."""
        return self.raw in self.param.get("keywords", [])

    @property
    def slider_value(self) -> str:
        """Where a ``range-auto`` slider stands: the value typed, else a third of its way."""
        if not self.keyword and self.raw:
            return self.raw
        low, high = self.param["minimum"], self.param["maximum"]
        return self._show(round(low + (high - low) / 3))

    @property
    def choices(self) -> list[tuple[str, Any]]:
        options = [(str(c), c) for c in self.param.get("choices", [])]
        if self.default is None and not self.param.get("required"):
            options.insert(0, ("", None))
        return options

    def value(self) -> Any:
        """The typed value (``None`` when empty); sets ``error`` when it cannot be read."""
        if self.widget == "checkbox":
            return self.checked
        text = (self.raw or "").strip()
        if not text:
            return None
        if text in self.param.get("keywords", []):
            return text
        kind = self.param["type"]
        try:
            if kind == "integer":
                return int(text)
            if kind == "number":
                return float(text)
            if kind == "array":
                parts = [p for p in re.split(r"[,\s]+", text) if p]
                return [_number(p) if re.fullmatch(r"-?\d+(\.\d+)?", p) else p for p in parts]
            if kind == "object":
                return json.loads(text)
        except ValueError:
            what = {"integer": "a whole number", "number": "a number", "object": "JSON"}
            self.error = f"Enter {what.get(kind, 'a valid value')}."
            return None
        if kind == "choice":
            by_text = dict(self.choices)
            if text not in by_text:
                self.error = "Choose one of: " + ", ".join(t for t, _ in self.choices if t) + "."
                return None
            return by_text[text]
        return text

    @property
    def changed(self) -> bool:
        value = self.value()
        return value is not None and value != self.default
