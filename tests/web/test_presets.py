"""Presets through the Flask test client: each built-in preset fills the builder with
exactly its recipe, saved presets are kept per owner (another owner cannot see, use or
delete them), and the form's recipe is exported as JSON and as a curl command."""

from __future__ import annotations

import html as entities
import json
import re
import shlex

import pytest

from pixtools import presets
from pixtools.web import forms as web_forms
from pixtools.web import recipe_io
from tests.support.browser import browser

HX = {"HX-Request": "true"}
FIELDS = {"builder": "1", "format": "webp", "step": "resize", "resize.width": "100",
          "convert.quality.webp": "55", "convert.progressive": "on", "auto_orient": "on"}


@pytest.mark.parametrize("choice", presets.BUILT_IN, ids=lambda choice: choice.key)
def test_a_preset_fills_the_builder_with_exactly_its_recipe(app, choice):
    with app.test_request_context("/"):
        form = web_forms.build(recipe_io.fields_of(choice.recipe))
        text = form.recipe_text()
    assert text is not None, form.errors
    expected = {"auto_orient": True, **json.loads(choice.recipe)}
    assert json.loads(text) == expected


def test_saved_presets_belong_to_their_owner(app):
    (alice, alice_headers), (bob, bob_headers) = browser(app), browser(app)
    reply = alice.post("/presets", data={**FIELDS, "preset_name": "  My   thumbs "},
                       headers={**HX, **alice_headers})
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "Saved as “My thumbs”." in html
    key = re.search(r'data-preset="([0-9a-f]{16})"', html).group(1)
    assert reply.headers["HX-Retarget"] == "#recipe"

    filled = alice.get(f"/presets/{key}", headers=HX).get_data(as_text=True)
    assert 'name="resize.width" value="100"' in filled
    assert re.search(r'data-op="resize"(?! hidden)>', filled)
    assert "My thumbs" in alice.get("/").get_data(as_text=True)
    # Without htmx the preset's link opens the whole page with the builder filled in.
    assert alice.get(f"/presets/{key}").headers["Location"].endswith(f"/?preset={key}")
    assert 'value="100"' in alice.get(f"/?preset={key}").get_data(as_text=True)

    assert "My thumbs" not in bob.get("/").get_data(as_text=True)
    assert bob.get(f"/presets/{key}", headers=HX).status_code == 404
    assert bob.get(f"/?preset={key}").status_code == 404
    assert bob.post(f"/presets/{key}/delete", headers={**HX, **bob_headers}).status_code == 404
    assert 'value="100"' in alice.get(f"/presets/{key}", headers=HX).get_data(as_text=True)

    # Saving under the same name replaces; deleting removes it for its owner.
    again = {**FIELDS, "resize.width": "120", "preset_name": "My thumbs"}
    assert alice.post("/presets", data=again, headers={**HX, **alice_headers}).status_code == 200
    page = alice.get("/").get_data(as_text=True)
    assert page.count("data-preset=") == len(presets.BUILT_IN) + 1  # replaced, not added
    assert 'value="120"' in alice.get(f"/presets/{key}", headers=HX).get_data(as_text=True)
    gone = alice.post(f"/presets/{key}/delete", headers={**HX, **alice_headers})
    assert gone.status_code == 200 and "Preset deleted." in gone.get_data(as_text=True)
    assert "My thumbs" not in alice.get("/").get_data(as_text=True)
    assert alice.get(f"/presets/{key}", headers=HX).status_code == 404


def test_bad_names_and_bad_recipes_are_flagged_inline(app):
    client, headers = browser(app)
    nameless = client.post("/presets", data={**FIELDS, "preset_name": " "},
                           headers={**HX, **headers})
    assert nameless.status_code == 400
    assert 'id="preset-name-error">Give the preset a name.' in nameless.get_data(as_text=True)
    built_in = client.post("/presets", data={**FIELDS, "preset_name": "thumbnail"},
                           headers={**HX, **headers})
    assert built_in.status_code == 400
    bad = client.post("/presets", data={**FIELDS, "resize.width": "99999",
                                        "preset_name": "Huge"}, headers={**HX, **headers})
    assert bad.status_code == 422
    assert 'id="f-resize-width-error"' in bad.get_data(as_text=True)
    assert "Huge" not in client.get("/").get_data(as_text=True)


def test_export_gives_the_recipe_json_and_a_curl_command(app):
    client, headers = browser(app)
    reply = client.post("/recipe/export", data={**FIELDS, "export": "curl"},
                        headers={**HX, **headers})
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    command = re.search(r'data-export-text="curl" data-wanted>(.*?)</pre>', html, re.S).group(1)
    words = shlex.split(entities.unescape(command))
    assert words[:2] == ["curl", "-sS"] and words[-1] == "http://localhost/api/v1/jobs"
    assert "Authorization: Bearer $PIXTOOLS_API_KEY" in words
    recipe = json.loads(words[words.index("--form-string") + 1].removeprefix("recipe="))
    assert recipe == {"outputs": [{"steps": [{"op": "resize", "width": 100},
                                             {"op": "convert", "format": "webp",
                                              "quality": 55}]}], "auto_orient": True}
    bad = client.post("/recipe/export", data={**FIELDS, "format": "tiff"},
                      headers={**HX, **headers})
    assert bad.status_code == 422 and bad.headers["HX-Retarget"] == "#recipe"
