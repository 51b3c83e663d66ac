"""The API's OpenAPI 3.1 document, generated from the pydantic models that validate
requests (the recipe: each operation's parameters and ``RecipeOptions``) and describe the
answers (``jobs.schema``, ``api.models``), served at ``/api/v1/openapi.json``, with its
reference page at ``/api/v1/docs`` (Swagger UI, vendored like htmx: no inline script).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..config import Settings
from ..jobs import schema
from ..recipe import recipe_model
from . import models, pages

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
_JSON = "application/json"


def _schemas(settings: Settings) -> dict[str, Any]:
    responses: list[type[BaseModel]] = [
        schema.JobJSON, schema.SubmittedJobJSON, schema.JobPageJSON, models.Problem,
        models.CatalogueJSON, models.WebhookLogJSON, models.SandboxJSON,
    ]
    recipe = recipe_model(settings.max_outputs, settings.max_steps)
    pairs: list[tuple[type[BaseModel], Any]] = [(m, "serialization") for m in responses]
    pairs.append((recipe, "validation"))
    _, top = models_json_schema(pairs, ref_template=REF)
    return dict(top["$defs"])


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str, headers: dict[str, Any] | None = None,
          media: str = _JSON) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description,
                              "content": {media: {"schema": _ref(name)}}}
    if headers:
        answer["headers"] = headers
    return answer


def _problems(*statuses: int) -> dict[str, Any]:
    why = {400: "A malformed request (the field is named), or a Host this instance does not "
           "answer to.", 401: "No or an unknown API key.",
           403: "A cookie request without the page's CSRF token.", 404: "No such job (or "
           "not yours).", 409: "No output has finished yet.", 410: "The job has expired "
           "(error `expired`): its results are no longer served.", 413: "The upload is too large.",
           415: "Not an accepted image.", 422: "A bad recipe, image, webhook URL or reused "
           "Idempotency-Key.", 503: "Too much work waiting: try again after Retry-After."}
    # Any request may name a Host this instance does not answer to: 400 everywhere.
    answers = {str(s): _json("Problem", why[s], media=PROBLEM)
               for s in sorted({400, *statuses})}
    if 503 in statuses:
        answers["503"]["headers"] = {"Retry-After": _header("Seconds to wait.", "integer")}
    return answers


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RATE_HEADERS = {
    "RateLimit-Policy": _header('The submission quotas, e.g. "submissions-60s";q=120;w=60 '
                                "(IETF draft-ietf-httpapi-ratelimit-headers)."),
    "RateLimit": _header('What is left of each, e.g. "submissions-60s";r=117;t=42 '
                         "(r: submissions left, t: seconds until the window moves on)."),
}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
WAIT = {"name": "wait", "in": "query", "required": False,
        "description": "Answer once the job has finished, or after this many seconds.",
        "schema": {"type": "number", "minimum": 0, "maximum": 60}}


def _limited() -> dict[str, Any]:
    """Every POST is a submission: counted, and refused past the rate."""
    return _json("Problem", "Too many submissions from this client.", {
        "Retry-After": _header("Seconds until one more submission is allowed.", "integer"),
        **RATE_HEADERS}, media=PROBLEM)


def _submit() -> dict[str, Any]:
    job = "The job (and its webhook, when one was given)."
    created = _json("SubmittedJobJSON", job, {
        "Location": _header("/api/v1/jobs/{job_id}"), **RATE_HEADERS})
    replayed = _json("SubmittedJobJSON", "The job this Idempotency-Key made earlier.",
                     RATE_HEADERS)
    form = {"type": "object", "required": ["file", "recipe"], "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream",
                 "description": "The image: JPEG, PNG, WebP, AVIF, GIF, TIFF, BMP, HEIC."},
        "recipe": _ref("Recipe"),
        "webhook_url": {"type": "array", "items": {"type": "string", "format": "uri"},
                        "description": "Where to send the signed job.succeeded/failed event."},
    }}
    return {
        "operationId": "createJob", "summary": "Submit an image and its recipe",
        "parameters": [WAIT, {"name": "Idempotency-Key", "in": "header", "required": False,
                              "description": "Makes a retried submission safe.",
                              "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": form, "encoding": {"recipe": {"contentType": _JSON}}}}},
        "responses": {"202": created, "200": replayed, "429": _limited(),
                      **_problems(400, 401, 403, 413, 415, 422, 503)},
    }


def _list() -> dict[str, Any]:
    return {
        "operationId": "listJobs", "summary": "Your jobs, newest first, a page at a time",
        "parameters": [
            {"name": "limit", "in": "query", "required": False, "schema": {
                "type": "integer", "minimum": 1, "maximum": pages.MAX_LIMIT,
                "default": pages.DEFAULT_LIMIT}},
            {"name": "status", "in": "query", "required": False,
             "description": "Only jobs of these statuses, comma-separated.",
             "schema": {"type": "string", "examples": ["running,queued"]}},
            {"name": "cursor", "in": "query", "required": False,
             "description": "next_cursor of the previous page.", "schema": {"type": "string"}},
        ],
        "responses": {"200": _json("JobPageJSON", "A page of jobs.", {
            "Link": _header('<…?cursor=…>; rel="next", while there are more.')}),
            **_problems(400, 401)},
    }


def _paths() -> dict[str, Any]:
    job_id = [JOB_ID]
    return {
        "/api/v1/jobs": {"post": _submit(), "get": _list()},
        "/api/v1/jobs/{job_id}": {
            "get": {"operationId": "getJob", "summary": "A job", "parameters": [JOB_ID, WAIT],
                    "responses": {"200": _json("JobJSON", "The job."), **_problems(400, 401,
                                                                                    404)}},
            "delete": {"operationId": "deleteJob", "summary": "Delete a job and its files",
                       "parameters": job_id, "responses": {
                           "204": {"description": "Deleted."}, **_problems(401, 403, 404)}},
        },
        "/api/v1/jobs/{job_id}/bundle.zip": {"get": {
            "operationId": "getJobBundle", "summary": "Every finished output as one ZIP",
            "parameters": job_id, "responses": {
                "200": {"description": "A stored (uncompressed) ZIP.", "content": {
                    "application/zip": {"schema": {"type": "string",
                                                   "contentMediaType": "application/zip"}}}},
                **_problems(401, 404, 409, 410)}}},
        "/api/v1/jobs/{job_id}/webhook": {"get": {
            "operationId": "getJobWebhook", "summary": "The job's webhook deliveries",
            "parameters": job_id, "responses": {
                "200": _json("WebhookLogJSON", "Its URL and every delivery with its attempts."),
                **_problems(401, 404)}}},
        "/api/v1/operations": {"get": {
            "operationId": "listOperations", "summary": "The operations and recipe options",
            "responses": {"200": _json("CatalogueJSON", "The catalogue."),
                          **_problems(401)}}},
        "/api/v1/sandboxes": {"post": {
            "operationId": "createSandbox", "summary": "A webhook receiver on this instance",
            "responses": {"201": _json("SandboxJSON", "The new sandbox.", {
                "Location": _header("/api/v1/sandboxes/{sandbox_id}"), **RATE_HEADERS}),
                "429": _limited(), **_problems(401, 403)}}},
        "/api/v1/sandboxes/{sandbox_id}": {"get": {
            "operationId": "getSandbox", "summary": "A sandbox and what it received",
            "parameters": [{"name": "sandbox_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json("SandboxJSON", "The sandbox."), **_problems(401, 404)}}},
    }


def _tag(path: str) -> str:
    if "/webhook" in path or "/sandboxes" in path:
        return "webhooks"
    return "operations" if path.endswith("/operations") else "jobs"


def _tagged(paths: dict[str, Any]) -> dict[str, Any]:
    for path, item in paths.items():
        for operation in item.values():
            operation["tags"] = [_tag(path)]
    return paths


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this instance (its limits are its settings)."""
    return copy.deepcopy(_document(settings))


@functools.lru_cache(maxsize=4)
def _document(settings: Settings) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "PixTools API", "version": "1",
                 "description": "Self-hostable image processing: submit an image and a "
                 "recipe, read the job back with signed links to its results. Errors are "
                 "RFC 9457 problem details."},
        "tags": [{"name": "jobs", "description": "Submit, read, list and delete jobs."},
                 {"name": "operations", "description": "What a recipe may ask for."},
                 {"name": "webhooks", "description": "Deliveries and test receivers."}],
        "paths": _tagged(_paths()),
        "components": {"schemas": _schemas(settings), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API key (required in server mode)."},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
        # No key at all is fine in desktop mode; server mode asks for one.
        "security": [{}, {"bearer": []}, {"apiKey": []}],
    }
