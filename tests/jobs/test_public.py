"""One public representation: the API's answer, the page's card, the webhook event and the
operator's record are all made by ``jobs.view`` from the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from pixtools import create_app, jobs
from pixtools.db import db, upgrade
from pixtools.models import Job
from pixtools.web import cards
from tests.support.webhooks import Receiver, attempt, only_delivery, run_job, submit


@pytest.fixture
def finished(desktop_config: dict[str, Any], receiver: Receiver) -> Iterator[tuple[Any, str]]:
    """A desktop app and one job of it, run to the end, whose event went to ``receiver``."""
    app = create_app({**desktop_config, "webhook_allow_private": "127.0.0.1/32"})
    upgrade(app)
    with app.app_context():
        reply = submit(app.test_client(), receiver.url())
        assert reply.status_code == 202, reply.get_json()
        job_id = reply.get_json()["id"]
        run_job(job_id)
        assert attempt(only_delivery(job_id).id) is None
        yield app, job_id
        db.session.remove()


def without_signatures(value: Any) -> Any:
    """Links are signed afresh on every read (their expiry moves with the clock): compare
    where they point, not their signatures."""
    if isinstance(value, dict):
        return {k: without_signatures(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_signatures(v) for v in value]
    if isinstance(value, str) and "?" in value and value.startswith("http"):
        return urlsplit(value)._replace(query="").geturl()
    return value


def view_of(app: Any, job_id: str, base_url: str | None = "http://localhost/") -> jobs.JobView:
    job = db.session.get(Job, job_id, populate_existing=True)
    return jobs.view(job, jobs.links(base_url) if base_url is not None else None)


def test_the_api_answers_with_the_view(finished):
    app, job_id = finished
    answer = app.test_client().get(f"/api/v1/jobs/{job_id}").get_json()
    assert answer["status"] == "succeeded" and answer["outputs"][0]["url"]
    assert without_signatures(answer) == without_signatures(view_of(app, job_id).to_json())


def test_the_webhook_event_is_the_view(finished, receiver):
    app, job_id = finished
    (request,) = receiver.requests
    event = request.json()
    expected = view_of(app, job_id).to_event("job.succeeded")
    assert without_signatures(event["data"]) == without_signatures(expected["data"])
    assert event["data"]["outputs"][0]["url"].startswith("http://localhost/files/")


def test_the_card_shows_the_view(finished):
    app, job_id = finished
    view = view_of(app, job_id)
    with app.test_request_context("/", base_url="http://localhost/"):
        card = cards.card(db.session.get(Job, job_id))
    (output,) = view.outputs
    (panel,) = card.outputs
    assert (card.id, card.name, card.status) == (view.id, view.source.name, view.status)
    assert (panel.format, panel.width, panel.height) == (output.format, output.width,
                                                         output.height)
    assert panel.download_name == output.download_name
    assert without_signatures(panel.url) == without_signatures(output.url)


def test_the_operator_record_is_the_view(finished):
    app, job_id = finished
    result = app.test_cli_runner().invoke(args=["pixtools", "jobs", "show", job_id, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record == view_of(app, job_id, base_url=None).to_record()
    assert record["owner"] == "public" and record["source"]["key"] == f"jobs/{job_id}/source"
    assert "url" not in json.dumps(record)  # storage keys for operators, never signed links
