"""Limits and backpressure: rate per client (429), queue depth (503), frames, output sizes."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.support.environment import free_port, settings_from_env
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})


def post(client, data=None, recipe=RECIPE, headers=None):
    form = {"file": (io.BytesIO(data or make_image((16, 16))), "a.jpg"), "recipe": recipe}
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data",
                       headers=headers or {})


def desktop_app(desktop_config, **overrides):
    from pixtools import create_app, db

    app = create_app({**desktop_config, **overrides})
    db.upgrade(app)
    return app


def gif(frames: int) -> bytes:
    images = [Image.new("RGB", (4, 4), (i * 40, 0, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


def test_default_rate_is_generous(desktop_config):
    from pixtools.config import load_settings

    settings = load_settings(desktop_config)
    amount, unit = settings.submit_rate_limit.split("/")
    assert unit == "minute" and int(amount) >= 60


def test_rate_limit_answers_429_with_retry_after_per_client(desktop_config):
    from pixtools import apikeys

    app = desktop_app(desktop_config, submit_rate_limit="3/minute")
    client = app.test_client()
    with app.app_context():
        key = apikeys.create("script").secret
    assert [post(client).status_code for _ in range(3)] == [202, 202, 202]
    # Reading and polling do not count.
    assert client.get("/api/v1/operations").status_code == 200
    refused = post(client)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "too_many_requests"
    assert "each client may send 3 per minute" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert f"Try again in {refused.headers['Retry-After']} s" in body["message"]
    # Another client (here: an API key) has its own allowance.
    assert post(client, headers={"Authorization": f"Bearer {key}"}).status_code == 202


def test_rate_limit_is_shared_by_web_processes_through_redis(server_env, server_app):
    from pixtools import create_app

    env = {**settings_from_env(server_env), "submit_rate_limit": "3/minute"}
    first, second = create_app(env).test_client(), create_app(env).test_client()
    assert post(first).status_code == 202
    assert post(second).status_code == 202
    assert post(first).status_code == 202
    assert post(second).status_code == 429  # the count lives in Redis, not in a process


def parse_fields(value: str) -> dict[str, dict[str, int]]:
    """An IETF RateLimit / RateLimit-Policy field: '"name";a=1;b=2, …' → {name: {a: 1, b: 2}}."""
    parsed = {}
    for member in value.split(","):
        name, *params = member.strip().split(";")
        assert name.startswith('"') and name.endswith('"'), value  # a quoted policy name
        parsed[name.strip('"')] = {k: int(v) for k, v in (p.split("=") for p in params)}
    return parsed


def test_submissions_advertise_the_rate_with_the_ietf_draft_fields(desktop_config):
    app = desktop_app(desktop_config, submit_rate_limit="3/minute;10/hour")
    client = app.test_client()
    answers = [post(client) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    for sent, answer in enumerate(answers[:3], start=1):
        assert parse_fields(answer.headers["RateLimit-Policy"]) == {
            "submissions-60s": {"q": 3, "w": 60}, "submissions-3600s": {"q": 10, "w": 3600}}
        state = parse_fields(answer.headers["RateLimit"])
        assert state["submissions-60s"]["r"] == 3 - sent
        assert state["submissions-3600s"]["r"] == 10 - sent
        assert 0 < state["submissions-60s"]["t"] <= 60
    refused = answers[3]
    assert refused.mimetype == "application/problem+json"
    assert parse_fields(refused.headers["RateLimit"])["submissions-60s"]["r"] == 0
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert abs(parse_fields(refused.headers["RateLimit"])["submissions-60s"]["t"] - wait) <= 1
    # Reads are not submissions: neither counted nor advertised.
    assert "RateLimit" not in client.get("/api/v1/operations").headers


def test_bad_rate_setting_stops_the_app(desktop_config):
    from pixtools import create_app
    from pixtools.config import ConfigError

    with pytest.raises(ConfigError, match="PIXTOOLS_SUBMIT_RATE_LIMIT: write a rate"):
        create_app({**desktop_config, "submit_rate_limit": "lots"})


def test_deep_queue_answers_503_with_retry_after(server_env, server_app):
    from pixtools import create_app
    from pixtools.queues import get_queues

    app = create_app({**settings_from_env(server_env), "max_queued_standard": 2,
                      "busy_retry_after_seconds": 45})
    client = app.test_client()
    assert post(client).status_code == 202
    assert post(client).status_code == 202
    assert get_queues(app).standard.pending_count() == 2  # nobody consumes here
    refused = post(client)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "45"
    assert refused.get_json()["error"] == "service_unavailable"
    assert "2 steps are waiting on the standard queue" in refused.get_json()["message"]
    get_queues(app).standard.flush()
    assert post(client).status_code == 202


def test_animation_frames_are_limited_at_upload(desktop_config):
    client = desktop_app(desktop_config, max_frames=3).test_client()
    assert post(client, gif(3)).status_code == 202
    refused = post(client, gif(5))
    assert refused.status_code == 422
    assert "more than 3 frames" in refused.get_json()["message"]


def test_output_size_refused_in_the_recipe_when_the_parameters_show_it(desktop_config):
    client = desktop_app(desktop_config, max_output_side=1000,
                         max_output_pixels=500_000).test_client()
    too_wide = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 1200}]}]})
    response = post(client, recipe=too_wide)
    assert response.status_code == 422
    assert response.get_json()["field"] == "outputs.0.steps.0.width"
    assert "larger than 1000" in response.get_json()["message"]
    too_many = json.dumps({"outputs": [{"steps": [
        {"op": "resize", "width": 900, "height": 900, "upscale": True}]}]})
    response = post(client, recipe=too_many)
    assert response.status_code == 422
    assert "0.8 megapixels" in response.get_json()["message"]
    # Without upscale the box only bounds the result, which is never larger than the source.
    fits = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 900, "height": 900}]}]})
    assert post(client, recipe=fits).status_code == 202


def test_output_size_fails_the_job_when_only_the_image_shows_it(desktop_config):
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks.pipeline import run_steps

    app = desktop_app(desktop_config, max_output_side=500)
    client = app.test_client()
    widen = json.dumps({"outputs": [{"steps": [
        {"op": "resize", "width": 400, "upscale": True}, {"op": "convert", "format": "png"}]}]})
    # 2 × 100 enlarged to 400 wide is 400 × 20000: only the source's shape shows that.
    job_id = post(client, make_image((2, 100), fmt="PNG"), recipe=widen).get_json()["id"]
    with app.app_context():
        run_steps(db.session.get(Job, job_id).outputs[0].steps[0].id)
        db.session.remove()
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "failed"
    assert job["error"] == (
        "step 1 (resize): resize would make the image 400 × 20000 pixels, but results may be "
        "at most 500 pixels a side: ask for a smaller size."
    )
    assert job["outputs"][0]["steps"][1]["error"] == "not run: an earlier step failed"


def test_runner_checks_every_result_after_the_operation(desktop_config, monkeypatch):
    from pixtools.errors import StepFailed
    from pixtools.operations import REGISTRY, Operation, Params
    from pixtools.tasks.runner import run_operation

    class NoParams(Params):
        pass

    # An operation whose result size nothing predicts: only the check after it can catch it.
    grow = Operation(name="grow", summary="double", params=NoParams,
                     apply=lambda image, params, progress: image.resize(
                         (image.width * 2, image.height * 2)))
    monkeypatch.setitem(REGISTRY, "grow", grow)
    app = desktop_app(desktop_config, max_output_pixels=10_000)
    with app.app_context():
        (grown,) = run_operation("grow", {}, [Image.new("RGB", (50, 50))], lambda f: None)
        assert grown.size == (100, 100)
        with pytest.raises(StepFailed, match=r"grow made the image 200 × 200 pixels, but "
                                             r"results may have at most 0.01 megapixels"):
            run_operation("grow", {}, [Image.new("RGB", (100, 100))], lambda f: None)


def test_limits_let_work_through_when_redis_is_unreachable(server_env, server_app):
    from pixtools import create_app, jobs

    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app({**settings_from_env(server_env), "redis_url": dead,
                      "submit_rate_limit": "1/minute"})
    client = app.test_client()
    # The rate limiter cannot count: requests are answered on their merits, not with a 500.
    for _ in range(3):
        response = post(client, recipe="{}")
        assert response.status_code == 422, response.get_json()
    with app.app_context():
        jobs.check_capacity({"standard", "ml"})  # unknown depth: accepted, not refused
