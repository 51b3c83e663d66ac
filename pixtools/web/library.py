"""Recipes kept and shared from the page: presets (built in, or saved by their owner) fill
the builder, and "Copy as curl" / "Copy recipe JSON" show the form's recipe as the API
takes it. Each answers the recipe part of the form (``partials/recipe.html``), so errors
land on their controls as they do for an upload.
"""

from __future__ import annotations

import json

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import presets
from ..errors import PixToolsError
from ..http.identity import current_owner
from . import forms as web_forms
from . import recipe_io
from .htmx import is_partial
from .views import form_for

bp = Blueprint("library", __name__)


def _recipe(form: web_forms.RecipeForm, status: int = 200, **extra: object) -> ResponseReturnValue:
    response = make_response(render_template("partials/recipe.html", form=form, **extra), status)
    # The buttons sit inside the upload form, whose answers go to the job list.
    response.headers["HX-Retarget"] = "#recipe"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _checked() -> tuple[web_forms.RecipeForm, str | None]:
    """The submitted form and its recipe JSON, checked as an upload's is (None: refused)."""
    form = web_forms.build(request.form)
    order = form.order(owner=current_owner(), webhook_urls=request.form.getlist("webhook_url"),
                       base_url=request.host_url)
    return form, (form.recipe_text() if order is not None and not form.has_errors else None)


@bp.get("/presets/<key>")
def preset(key: str) -> ResponseReturnValue:
    if not is_partial():
        return redirect(url_for("web.index", preset=key), 303)
    return _recipe(form_for(key), applied=key)


@bp.post("/presets")
def save_preset() -> ResponseReturnValue:
    form, recipe = _checked()
    if recipe is None:
        return _recipe(form, 422)
    try:
        saved = presets.save(current_owner(), request.form.get("preset_name", ""), recipe)
    except PixToolsError as exc:
        return _recipe(form, exc.status, preset_error=exc.message,
                       preset_name=request.form.get("preset_name", ""))
    return _recipe(form, applied=saved.key, notice=f"Saved as “{saved.name}”.")


@bp.post("/presets/<key>/delete")
def delete_preset(key: str) -> ResponseReturnValue:
    presets.delete(key, current_owner())
    form = web_forms.build(request.form) if request.form else web_forms.build()
    return _recipe(form, notice="Preset deleted.")


@bp.post("/recipe/export")
def export() -> ResponseReturnValue:
    """The form's recipe as JSON and as a ``curl`` command for the API."""
    form, recipe = _checked()
    if recipe is None:
        return _recipe(form, 422)
    pretty = json.dumps(json.loads(recipe), indent=2)
    api_url = url_for("api.create_job", _external=True)
    command = recipe_io.curl(recipe, api_url, request.form.get("webhook_url") or None)
    return render_template("partials/export.html", recipe=pretty, curl=command,
                           wanted=request.form.get("export", "json"))
