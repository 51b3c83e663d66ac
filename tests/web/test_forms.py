"""The recipe form follows the registry: a new operation appears with the right controls."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field
from werkzeug.datastructures import MultiDict

from pixtools import create_app, operations
from pixtools.operations import Operation, Params
from pixtools.web import forms as web_forms


class TintParams(Params):
    colour: str = Field("#ff0000", description="Tint colour.")
    strength: int = Field(50, ge=0, le=100, description="How strong.")
    blend: Literal["normal", "multiply", "screen", "overlay", "soft", "hard"] = "normal"
    box: list[int] | None = Field(None, description="Only inside this box.")
    keep_alpha: bool = Field(True, description="Leave transparency alone.")


class SmoothParams(Params):
    level: Literal["low", "high"] = "low"


def _identity(image, params, progress):  # type: ignore[no-untyped-def]
    return image


def recipe_of(app, form):  # type: ignore[no-untyped-def]
    """What the page submits: the form's order, checked as an API request is."""
    with app.test_request_context("/"):
        order = form.order(owner="browser:test", webhook_urls=[], base_url="http://localhost/")
    return order.recipe if order is not None else None


@pytest.fixture
def more_ops(app, monkeypatch):
    monkeypatch.setitem(operations.REGISTRY, "tint",
                        Operation(name="tint", summary="Tint it.", params=TintParams,
                                  apply=_identity))
    monkeypatch.setitem(operations.REGISTRY, "smooth",
                        Operation(name="smooth", summary="Smooth it.", params=SmoothParams,
                                  apply=_identity, queue="ml"))
    return app


def test_new_operations_get_controls_without_template_changes(more_ops, client):
    html = client.get("/").get_data(as_text=True)
    assert 'name="tint.colour" value="#ff0000" type="color"' in html
    assert 'type="range" id="f-tint-strength" name="tint.strength" value="50"' in html
    assert '<select id="f-tint-blend" name="tint.blend"' in html  # six choices: a list
    assert 'type="radio" name="smooth.level" value="high"' in html  # two: segments
    assert 'name="tint.box" value="" type="text" placeholder="e.g. 0, 0, 100, 100"' in html
    assert 'id="f-tint-keep_alpha" name="tint.keep_alpha" value="on" checked' in html
    assert '<span class="tag">ML</span>' in html
    # The ml operation comes first (it wants the original pixels), resize before tint.
    order = [html.index(f'data-op="{name}"') for name in ("smooth", "resize", "tint")]
    assert order == sorted(order)


def test_form_values_become_a_recipe_in_order(more_ops):
    form = web_forms.build(MultiDict([
        ("format", "jpeg"), ("convert.quality.jpeg", "65"),
        ("tint.strength", "70"), ("tint.box", "1, 2, 30, 40"), ("tint.blend", "normal"),
        ("tint.colour", "#ff0000"),  # keep_alpha unticked: False, unlike its default
        ("step.smooth", "on"), ("smooth.level", "high"),
        ("resize.height", "200"), ("auto_orient", "on"),
    ]))
    recipe = recipe_of(more_ops, form)
    assert recipe is not None, [(c.name, c.error) for c in form.controls() if c.error]
    (steps,) = recipe.outputs
    assert [(s.op, s.queue) for s in steps] == [
        ("smooth", "ml"), ("resize", "standard"), ("tint", "standard"), ("convert", "standard")
    ]
    assert steps[2].params["strength"] == 70 and steps[2].params["box"] == [1, 2, 30, 40]
    assert steps[2].params["keep_alpha"] is False
    assert steps[3].params["quality"] == 65 and steps[3].params["format"] == "jpeg"
    assert recipe.auto_orient is True


def test_untouched_steps_stay_out_and_errors_find_their_control(more_ops):
    quiet = web_forms.build(MultiDict([("format", "png"), ("tint.keep_alpha", "on"),
                                       ("tint.strength", "50"), ("auto_orient", "")]))
    recipe = recipe_of(more_ops, quiet)
    assert recipe is not None
    assert [s.op for s in recipe.outputs[0]] == ["convert"]
    assert recipe.auto_orient is False

    bad = web_forms.build(MultiDict([("format", "webp"), ("tint.strength", "250"),
                                     ("tint.blend", "sideways")]))
    assert recipe_of(more_ops, bad) is None
    errors = {c.name: c.error for c in bad.controls() if c.error}
    assert errors == {"tint.blend": "Choose one of: normal, multiply, screen, overlay, soft, "
                                    "hard."}
    fixed = web_forms.build(MultiDict([("format", "webp"), ("tint.strength", "250")]))
    assert recipe_of(more_ops, fixed) is None
    tint = next(section for section in fixed.steps if section.op == "tint")
    assert tint.controls[1].error == "Input should be less than or equal to 100."


def test_every_format_is_one_output_and_limits_still_apply(app, desktop_config):
    form = web_forms.build(MultiDict([("format", f) for f in ("jpeg", "png", "webp", "avif")]))
    recipe = recipe_of(app, form)
    assert recipe is not None
    assert [steps[-1].params["format"] for steps in recipe.outputs] == [
        "jpeg", "png", "webp", "avif"]
    capped = web_forms.build(MultiDict([("format", "jpeg"), ("format", "png")]))
    assert recipe_of(create_app({**desktop_config, "max_outputs": 1}), capped) is None
    assert capped.errors == {"general": "Outputs has 2 entries; at most 1 are allowed."}


def test_best_format_sends_a_look_and_the_browsers_formats(app):
    form = web_forms.build(MultiDict([
        ("format", "auto"), ("format", "png"), ("convert.quality_target", "medium"),
        ("convert.candidates", "avif, webp, jpeg"), ("convert.encoder", "jpegli"),
    ]))
    recipe = recipe_of(app, form)
    assert recipe is not None, [(c.name, c.error) for c in form.controls() if c.error]
    png, best = (steps[-1].params for steps in recipe.outputs)
    assert png["format"] == "png" and png["quality_target"] is None
    assert best["format"] == "auto" and best["quality"] == "auto"
    assert best["quality_target"] == "medium" and best["encoder"] == "jpegli"
    assert best["candidates"] == ["avif", "webp", "jpeg"]


def test_best_format_errors_land_on_the_formats_and_the_controls(app):
    unknown = web_forms.build(MultiDict([("format", "auto"), ("convert.candidates", "bmp")]))
    assert recipe_of(app, unknown) is None
    assert "'avif', 'webp' or 'jpeg'" in unknown.format_error
    lossless = web_forms.build(MultiDict([("format", "auto"), ("convert.lossless", "on")]))
    assert recipe_of(app, lossless) is None
    errors = {c.name: c.error for c in lossless.controls() if c.error}
    assert errors["convert.lossless"].startswith("Lossless WebP has no quality to search")


def test_best_format_starts_from_what_the_browser_accepts(client):
    chromium = "text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8"
    html = client.get("/", headers={"Accept": chromium}).get_data(as_text=True)
    assert 'name="convert.candidates" value="avif, webp, jpeg"' in html
    assert "Best format" in html and 'name="convert.quality_target" value="high" checked' in html
    plain = client.get("/", headers={"Accept": "text/html,*/*"}).get_data(as_text=True)
    assert 'name="convert.candidates" value="webp, jpeg"' in plain


def test_the_builder_lists_its_steps_in_the_order_they_run(more_ops):
    form = web_forms.build(MultiDict([
        ("format", "webp"), ("step", "tint"), ("tint.strength", "70"), ("step", "resize"),
        ("resize.width", "64"), ("smooth.level", "high"),  # smooth is not listed: left out
    ]))
    recipe = recipe_of(more_ops, form)
    assert recipe is not None
    assert [s.op for s in recipe.outputs[0]] == ["tint", "resize", "convert"]
    assert [s.op for s in form.steps][:2] == ["tint", "resize"]  # shown first, in order

    unknown = web_forms.build(MultiDict([("format", "webp"), ("step", "teleport")]))
    assert recipe_of(more_ops, unknown) is None
    assert unknown.errors["general"].startswith("Unknown step teleport: choose from ")


def test_denoise_noise_level_is_a_slider_with_an_auto_switch(app):
    """The control comes from the declared parameter (a number 0-75 or the word auto): the
    switch is sent first, so when it is on the form reads auto, else the slider's value."""
    form = web_forms.build()
    (denoise,) = [s for s in form.steps if s.op == "denoise"]
    controls = {c.param["name"]: c for c in denoise.controls}
    level = controls["noise_level"]
    assert level.widget == "range-auto" and level.keyword and level.slider_value == "25"
    assert controls["model"].widget == "radio"
    assert not denoise.enabled

    auto = web_forms.build(MultiDict([("format", "png"), ("step", "denoise"),
                                      ("denoise.noise_level", "auto"),
                                      ("denoise.noise_level", "25")]))
    (steps,) = recipe_of(app, auto).outputs
    assert steps[0].op == "denoise" and steps[0].params["noise_level"] == "auto"

    chosen = web_forms.build(MultiDict([("format", "png"), ("step", "denoise"),
                                        ("denoise.noise_level", "30")]))
    (steps,) = recipe_of(app, chosen).outputs
    assert steps[0].op == "denoise" and steps[0].params["noise_level"] == 30

    too_high = web_forms.build(MultiDict([("format", "png"), ("step", "denoise"),
                                          ("denoise.noise_level", "80")]))
    assert recipe_of(app, too_high) is None
    (denoise,) = [s for s in too_high.steps if s.op == "denoise"]
    assert "75" in {c.param["name"]: c for c in denoise.controls}["noise_level"].error
