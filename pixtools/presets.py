"""Presets: recipes one click away. A few are built in; anyone may save their own, which
are kept server-side for their owner only (another owner's preset is simply not found).

A preset is the recipe JSON the API takes, so what the page fills in from it, and what it
sends, is what a script would send. The recipe is checked where it comes in (the page
builds it from its form and checks it like any submission), not here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from .db import db
from .errors import BadRequest, NotFound
from .models import Preset, utcnow

MAX_NAME = 60
MAX_PER_OWNER = 50


@dataclass(frozen=True)
class Choice:
    """A preset as the page offers it: built in (``key`` a word) or saved (its id)."""

    key: str
    name: str
    recipe: str
    built_in: bool
    summary: str = ""


def _recipe(*steps: dict[str, object]) -> str:
    return json.dumps({"outputs": [{"steps": list(steps)}]})


BUILT_IN = (
    Choice("web", "Web image", _recipe(
        {"op": "resize", "width": 1920, "height": 1920},
        {"op": "convert", "format": "webp", "quality": 80},
    ), True, "WebP, at most 1920 px"),
    Choice("thumbnail", "Thumbnail", _recipe(
        {"op": "resize", "width": 320, "height": 320, "mode": "fill"},
        {"op": "convert", "format": "webp", "quality": 70},
    ), True, "320 × 320 WebP, cropped to fill"),
    Choice("strip", "Strip metadata only", _recipe(
        {"op": "convert", "format": "png"},
    ), True, "Same pixels (PNG), no EXIF, XMP or IPTC"),
    Choice("denoise", "Clean up a noisy photo", _recipe(
        {"op": "denoise"},
        {"op": "convert", "format": "jpeg", "quality": 90},
    ), True, "Denoised, JPEG 90"),
)


def _saved(owner: str) -> list[Preset]:
    query = select(Preset).where(Preset.owner == owner).order_by(Preset.created_at)
    return list(db.session.execute(query).scalars())


def choices_for(owner: str) -> list[Choice]:
    """The built-in presets, then ``owner``'s own, oldest first."""
    own = [Choice(p.id, p.name, p.recipe, False) for p in _saved(owner)]
    return [*BUILT_IN, *own]


def get_for_owner(key: str, owner: str) -> Choice:
    for choice in choices_for(owner):
        if choice.key == key:
            return choice
    raise NotFound("No such preset: it was deleted, or it belongs to someone else.")


def save(owner: str, name: str, recipe: str) -> Choice:
    """Keep ``recipe`` under ``name`` for ``owner`` (replacing their preset of that name)."""
    name = " ".join(name.split())
    if not name:
        raise BadRequest("Give the preset a name.", field="preset_name")
    if len(name) > MAX_NAME:
        raise BadRequest(f"Keep the name under {MAX_NAME} characters.", field="preset_name")
    if any(choice.name.lower() == name.lower() for choice in BUILT_IN):
        raise BadRequest(f"“{name}” is a built-in preset: choose another name.",
                         field="preset_name")
    saved = _saved(owner)
    found = next((p for p in saved if p.name == name), None)
    if found is None:
        if len(saved) >= MAX_PER_OWNER:
            raise BadRequest(f"You have {MAX_PER_OWNER} presets: delete one first.",
                             field="preset_name")
        found = Preset(id=secrets.token_hex(8), owner=owner, name=name, created_at=utcnow())
        db.session.add(found)
    found.recipe = recipe
    db.session.commit()
    return Choice(found.id, found.name, found.recipe, False)


def delete(key: str, owner: str) -> None:
    preset = db.session.get(Preset, key)
    if preset is None or preset.owner != owner:
        raise NotFound("No such preset: it was deleted, or it belongs to someone else.")
    db.session.delete(preset)
    db.session.commit()
