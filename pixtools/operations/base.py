"""What an operation is: a name, declared parameters, and a pure function image → image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict

Queue = Literal["standard", "ml"]
Progress = Callable[[float], None]


class Params(BaseModel):
    """Base for every operation's parameters: unknown fields are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Operation:
    """One image operation.

    ``apply(image, params, progress)`` returns a new image; it never touches storage,
    the database or metrics (the runner owns those). ``progress`` takes a fraction 0–1
    for operations slow enough to report it.
    """

    name: str
    summary: str
    params: type[Params]
    apply: Callable[[Image.Image, Any, Progress], Image.Image]
    queue: Queue = "standard"

    def describe(self) -> dict[str, Any]:
        """The operation and its parameters as JSON, for ``GET /api/v1/operations``."""
        schema = self.params.model_json_schema()
        required = set(schema.get("required", []))
        params = []
        for name, prop in schema.get("properties", {}).items():
            params.append(_describe_param(name, prop, name in required))
        return {"name": self.name, "summary": self.summary, "queue": self.queue, "params": params}


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
    for key in ("minimum", "maximum"):
        if key in kind:
            described[key] = kind[key]
    return described
