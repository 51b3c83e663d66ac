"""The OpenAPI document: valid OpenAPI 3.1, generated from the models that validate requests,
and matched by live answers (a gunicorn server on the real services, and every answer the
``app``/``server_app`` fixtures give in any test: ``tests/support/contract.py``)."""

from __future__ import annotations

import io
import json

import pytest
import requests
from openapi_spec_validator import validate

from tests.support.contract import contract_of
from tests.support.images import make_image
from tests.support.recovery import run_step, steps_of
from tests.support.servers import Gunicorn

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "metadata"}, {"op": "resize", "width": 32},
                                            {"op": "convert", "format": "webp"}]}],
                     "metadata": "copyright"})


def submit(client, recipe=RECIPE, **form):
    return client.post("/api/v1/jobs", content_type="multipart/form-data", data={
        "file": (io.BytesIO(make_image((64, 48))), "photo.jpg"), "recipe": recipe, **form})


def test_the_served_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)  # openapi-spec-validator: raises on any fault
    assert document["openapi"] == "3.1.0"
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/operations"} <= set(
        document["paths"])
    assert set(document["paths"]["/api/v1/jobs"]) == {"get", "post"}


def test_the_recipe_schema_is_built_from_the_models_that_validate_recipes(app):
    from pixtools import operations
    from pixtools.recipe import RecipeOptions

    schemas = contract_of(app).document["components"]["schemas"]
    steps = schemas["RecipeOutput"]["properties"]["steps"]["items"]
    assert set(steps["discriminator"]["mapping"]) == set(operations.REGISTRY)
    for name, operation in operations.REGISTRY.items():
        step = schemas[steps["discriminator"]["mapping"][name].rsplit("/", 1)[-1]]
        declared = operation.params.model_json_schema()["properties"]
        assert set(step["properties"]) == set(declared) | {"op"}, name
        assert step["additionalProperties"] is False
    recipe = schemas["Recipe"]
    assert set(recipe["properties"]) == {"outputs", *RecipeOptions.model_fields}
    settings = app.extensions["pixtools.settings"]
    assert recipe["properties"]["outputs"]["maxItems"] == settings.max_outputs


@pytest.mark.parametrize("recipe", [
    {"outputs": [{"steps": [{"op": "resize", "width": 100}]}]},
    {"outputs": [{"steps": [{"op": "convert", "format": "avif", "quality": 60}]}],
     "colour": "keep"},
    {"outputs": [{"steps": [{"op": "resize", "width": 0}]}]},
    {"outputs": [{"steps": [{"op": "resize", "wdth": 100}]}]},
    {"outputs": [{"steps": [{"op": "sharpen_everything"}]}]},
    {"outputs": []},
    {"outputs": [{"steps": [{"op": "convert", "format": "png"}]}], "metadata": "all"},
    {"outputs": [{"steps": [{"op": "crop", "width": 10, "height": 10}]}], "extra": 1},
])
def test_the_document_and_the_api_agree_on_what_a_recipe_is(app, client, recipe):
    from jsonschema import Draft202012Validator

    document = contract_of(app).document
    schema = {"$ref": "#/components/schemas/Recipe", "components": document["components"]}
    by_document = Draft202012Validator(schema).is_valid(recipe)
    answer = submit(client, json.dumps(recipe))
    assert answer.status_code in (202, 422), answer.get_json()
    assert by_document == (answer.status_code == 202), answer.get_json()


def test_the_contract_catches_a_drifting_answer(app, client):
    contract = contract_of(app)
    body = submit(client).get_json()
    good = json.dumps(body).encode()
    assert contract.problems("POST", "/api/v1/jobs", 202, "application/json", good) == []
    for drifted in ({**body, "surprise": 1}, {k: v for k, v in body.items() if k != "status"},
                    {**body, "status": "done"}, {**body, "created_at": 5}):
        assert contract.problems("POST", "/api/v1/jobs", 202, "application/json",
                                 json.dumps(drifted).encode())
    assert contract.problems("POST", "/api/v1/jobs", 418, "application/json", good)
    assert contract.problems("GET", "/api/v1/jobs/x", 404, "application/json", good)


def test_finished_jobs_with_details_and_a_webhook_match(app, client):
    """Every member a job may show: a finished output's format, url, details; a webhook."""
    contract = contract_of(app)
    sandbox = client.post("/api/v1/sandboxes").get_json()
    made = submit(client, webhook_url=sandbox["url"])
    assert made.status_code == 202
    assert made.get_json()["webhook"] == {"url": sandbox["url"], "sandbox": sandbox["id"]}
    job_id = made.get_json()["id"]
    run_step(steps_of(job_id)[0].id)
    answer = client.get(f"/api/v1/jobs/{job_id}")
    output = answer.get_json()["outputs"][0]
    assert output["status"] == "succeeded" and output["details"]["metadata"]
    assert contract.problems("GET", f"/api/v1/jobs/{job_id}", 200, answer.mimetype,
                             answer.get_data()) == []
    log = client.get(f"/api/v1/jobs/{job_id}/webhook")
    assert log.status_code == 200 and log.get_json()["url"] == sandbox["url"]


def test_a_live_server_answers_as_documented(server_app, server_env, tmp_path):
    """gunicorn on PostgreSQL, Redis and S3, over HTTP: bodies, statuses, media types and the
    documented headers."""
    contract = contract_of(server_app)
    api = Gunicorn(server_env, tmp_path / "gunicorn.log")
    try:
        api.wait_ready()
        seen = []

        def call(method: str, path: str, **kwargs):
            reply = requests.request(method, f"{api.url}{path}", timeout=30, **kwargs)
            seen.append((method, path.split("?")[0], reply))
            return reply

        made = call("POST", "/api/v1/jobs", data={"recipe": RECIPE},
                    files={"file": ("photo.jpg", make_image((64, 48)), "image/jpeg")})
        assert made.status_code == 202, made.text
        assert made.headers["Location"] == f"/api/v1/jobs/{made.json()['id']}"
        assert made.headers["RateLimit-Policy"] and made.headers["RateLimit"]
        call("GET", f"/api/v1/jobs/{made.json()['id']}")
        call("GET", "/api/v1/jobs?limit=5")
        call("GET", "/api/v1/jobs?status=bogus")
        call("GET", "/api/v1/jobs/nope")
        call("POST", "/api/v1/jobs", data={"recipe": "{"},
             files={"file": ("a.jpg", make_image((8, 8)), "image/jpeg")})
        call("GET", "/api/v1/operations")
        call("DELETE", f"/api/v1/jobs/{made.json()['id']}")
    finally:
        api.stop()
    for method, path, reply in seen:
        mimetype = reply.headers.get("Content-Type", "").split(";")[0]
        assert contract.problems(method, path, reply.status_code, mimetype,
                                 reply.content) == [], (method, path, reply.text)
    assert [reply.status_code for *_, reply in seen] == [202, 200, 200, 400, 404, 422, 200, 204]
