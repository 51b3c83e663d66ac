"""Recipes in and out of the form: a preset's recipe JSON as the form fields that rebuild
it (so choosing a preset fills the builder), and the form's recipe as the JSON and the
``curl`` command that make the same job through the API.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from werkzeug.datastructures import MultiDict

from .. import operations
from ..errors import BadRequest

# The file name a copied command uploads: the person puts their own in its place.
CURL_FILE = "image.jpg"


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _add_params(fields: MultiDict[str, str], op: operations.Operation, prefix: str,
                params: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Each parameter as its control sends it; one the recipe leaves out shows its default
    (an absent field would read as empty: a slider in the middle, a switch off)."""
    for param in op.describe()["params"]:
        name = param["name"]
        value = params.get(name, param.get("default"))
        if name in skip or value is None or (param["type"] == "boolean" and not value):
            continue
        fields.add(f"{prefix}.{name}", _raw(value))


def fields_of(recipe: str) -> MultiDict[str, str]:
    """The builder's fields for ``recipe``: every output must run the same steps before its
    own encoding (as the form makes them); anything else is refused with a 400."""
    data = json.loads(recipe)
    outputs = [list(output["steps"]) for output in data["outputs"]]
    shared = outputs[0][:-1]
    encoder = operations.encoding_op()
    if any(steps[:-1] != shared or steps[-1]["op"] != encoder.name for steps in outputs):
        raise BadRequest("This recipe runs different steps per output: the page's form "
                         "cannot show it (send it through the API instead).")
    fields: MultiDict[str, str] = MultiDict([("builder", "1")])
    for step in shared:
        params = {k: v for k, v in step.items() if k != "op"}
        fields.add("step", step["op"])
        _add_params(fields, operations.REGISTRY[step["op"]], step["op"], params)
    for steps in outputs:
        convert = steps[-1]
        fields.add("format", convert["format"])
        if "quality" in convert:
            fields.add(f"{encoder.name}.quality.{convert['format']}", _raw(convert["quality"]))
        for name in ("quality_target", "candidates"):
            if name in convert:
                fields.add(f"{encoder.name}.{name}", _raw(convert[name]))
    first = {k: v for k, v in outputs[0][-1].items() if k != "op"}
    _add_params(fields, encoder, encoder.name, first,
                skip=("format", "quality", "quality_target", "candidates"))
    if data.get("auto_orient", True):
        fields.add("auto_orient", "on")
    return fields


def curl(recipe: str, api_url: str, webhook_url: str | None = None) -> str:
    """A shell command that submits ``recipe`` with an image, authenticated by the API key
    in ``$PIXTOOLS_API_KEY`` (the page's own identity is its cookie, which scripts lack)."""
    parts = [
        "curl", "-sS", "-H", '"Authorization: Bearer $PIXTOOLS_API_KEY"',
        "-F", shlex.quote(f"file=@{CURL_FILE}"),
        "--form-string", shlex.quote(f"recipe={recipe}"),
    ]
    if webhook_url:
        parts += ["--form-string", shlex.quote(f"webhook_url={webhook_url}")]
    parts.append(shlex.quote(api_url))
    return " ".join(parts)
