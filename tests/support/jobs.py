"""Jobs through the API in tests: submit one, read it back, download an output."""

from __future__ import annotations

import io
import json
from typing import Any


def submit(client: Any, data: bytes, recipe: dict, name: str = "photo.jpg") -> dict:
    response = client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(data), name), "recipe": json.dumps(recipe)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    return client.get(response.headers["Location"]).get_json()


def download(client: Any, output: dict) -> bytes:
    reply = client.get(output["url"])
    assert reply.status_code == 200
    assert len(reply.data) == output["bytes"]
    return reply.data


def outputs(*steps_per_output: list[dict]) -> list[dict]:
    return [{"steps": steps} for steps in steps_per_output]
