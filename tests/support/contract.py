"""The API's OpenAPI document held against real answers: every JSON answer of a documented
operation must match the schema of its documented status, or the test that caused it fails.

``watch(app)`` checks each answer as the app gives it (the ``app`` and ``server_app``
fixtures watch every API test); ``check`` does it for one answer (a live server's, say).
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

JSON_TYPES = ("application/json", "application/problem+json")


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._routes = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), item)
                        for path, item in document["paths"].items()]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, item in self._routes:
            if pattern.match(path):
                found: dict[str, Any] | None = item.get(method.lower())
                return found
        return None

    def problems(self, method: str, path: str, status: int, mimetype: str,
                 body: bytes) -> list[str]:
        """What is wrong with this answer by the document ([] when it matches, or when the
        operation is not documented)."""
        operation = self.operation(method, path)
        if operation is None:
            return []
        where = f"{method} {path} → {status}"
        answer = operation["responses"].get(str(status))
        if answer is None:
            return [f"{where}: status not documented"]
        content = answer.get("content", {})
        if not content:
            return [] if not body else [f"{where}: a body where none is documented"]
        if mimetype not in content:
            return [f"{where}: {mimetype} is not documented ({sorted(content)})"]
        if mimetype not in JSON_TYPES:
            return []
        schema = {**content[mimetype]["schema"], "components": self.document["components"]}
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        return [f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(json.loads(body))]


def contract_of(app: Any) -> Contract:
    from pixtools.api import openapi

    return Contract(openapi.document(app.extensions["pixtools.settings"]))


def watch(app: Any) -> list[str]:
    """Check every answer ``app`` gives from now on; returns the list problems go to."""
    contract = contract_of(app)
    found: list[str] = []

    def _check(response: Any) -> Any:
        from flask import request

        if request.path.startswith("/api/") and not response.is_streamed:
            found.extend(contract.problems(request.method, request.path, response.status_code,
                                           response.mimetype, response.get_data()))
        return response

    app.after_request(_check)
    return found
