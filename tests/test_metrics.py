"""Prometheus metrics: scraped after real jobs, from the app, a consumer and gunicorn workers."""

from __future__ import annotations

import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.environment import free_port, wait_for
from tests.support.images import make_image
from tests.support.servers import Gunicorn

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 48},
                                            {"op": "convert", "format": "webp"}]}]})


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def post_job(client, data: bytes):
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(data), "photo.jpg"), "recipe": RECIPE},
        content_type="multipart/form-data",
    )


def test_job_metrics_after_a_real_job(app, client):
    from pixtools.queues import get_queues

    get_queues(app).standard.immediate = True  # run the job's task right here, through Huey
    before = scrape(client)
    upload = make_image((96, 64))
    response = post_job(client, upload)
    assert response.status_code == 202
    job = client.get(response.headers["Location"]).get_json()
    assert job["status"] == "succeeded", job
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("pixtools_jobs_submitted_total") == 1
    assert delta("pixtools_jobs_finished_total", status="succeeded") == 1
    assert delta("pixtools_jobs_finished_total", status="failed") == 0
    assert delta("pixtools_bytes_in_total") == len(upload)
    assert delta("pixtools_bytes_out_total") == job["outputs"][0]["bytes"]
    for op in ("resize", "convert"):
        assert delta("pixtools_step_duration_seconds_count", op=op, queue="standard") == 1
        assert delta("pixtools_step_duration_seconds_sum", op=op, queue="standard") > 0
    assert delta("pixtools_task_events_total", queue="standard", signal="complete") == 1
    # HTTP metrics are grouped by route, so job ids never become label values.
    assert value(after, "flask_http_request_duration_seconds_count",
                 method="GET", path="/api/v1/jobs/<job_id>", status="200") >= 1
    assert not any(job["id"] in str(labels) for _name, labels in after)


def test_queue_depth_per_queue(app, client):
    from pixtools.queues import get_queues

    for step_id in (1, 2, 3):
        get_queues(app).task("ml", "run_steps")(step_id)
    get_queues(app).task("standard", "run_steps")(4)
    samples = scrape(client)
    assert value(samples, "pixtools_queue_depth", queue="ml") == 3
    assert value(samples, "pixtools_queue_depth", queue="standard") == 1


def test_recorders_for_webhooks_breakers_sweeper_and_denoise(client):
    from pixtools import metrics

    before = scrape(client)
    metrics.record_webhook_delivery("delivered")
    metrics.record_webhook_delivery("delivered")
    metrics.record_webhook_delivery("Breaker-Open")
    metrics.record_webhook_delivery("{{injected}}")
    from pixtools.webhooks import breaker

    breakers = breaker.get_breakers()
    for host in ("hooks.example.com", "other.example.com"):  # two opened by failures
        for _ in range(5):
            breakers.failed(breaker.key_for("key:1", host))
    breakers.storage(breaker.key_for("key:2", "third.example")).state = "half-open"
    metrics.record_breaker_counts({"melted": 7})  # an unknown state is ignored
    metrics.record_sweeper_recovery()
    metrics.record_sweeper_recovery(2)
    metrics.record_step("denoise", "ml", 0.5, 2_000_000)  # 2 MP in 0.5 s: 4 MP/s
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("pixtools_webhook_deliveries_total", outcome="delivered") == 2
    assert delta("pixtools_webhook_deliveries_total", outcome="breaker_open") == 1
    assert delta("pixtools_webhook_deliveries_total", outcome="other") == 1
    assert value(after, "pixtools_webhook_breakers", state="open") == 2
    assert value(after, "pixtools_webhook_breakers", state="half-open") == 1
    # Counts by state only: no host or owner ever becomes a label value.
    text = client.get("/metrics").get_data(as_text=True)
    assert "example" not in text and "host=" not in text
    assert delta("pixtools_sweeper_recoveries_total") == 3
    assert delta("pixtools_denoise_megapixels_per_second_count") == 1
    assert delta("pixtools_denoise_megapixels_per_second_sum") == pytest.approx(4.0)
    assert delta("pixtools_denoise_megapixels_per_second_bucket", le="4.0") == 1
    assert delta("pixtools_denoise_megapixels_per_second_bucket", le="2.0") == 0


def test_consumer_exports_its_metrics(server_app, server_env, spawn):
    port = free_port()
    consumer = spawn("worker", "standard", env={
        **server_env, "PIXTOOLS_METRICS_PORT": str(port), "PIXTOOLS_METRICS_HOST": "127.0.0.1",
    })
    client = server_app.test_client()
    response = post_job(client, make_image((80, 60)))
    assert response.status_code == 202
    location = response.headers["Location"]
    try:
        job = wait_for(lambda: (b := client.get(location).get_json())["status"]
                       in ("succeeded", "failed") and b, timeout=60)
    except AssertionError:
        raise AssertionError(consumer.output()) from None
    assert job["status"] == "succeeded", (job, consumer.output())
    samples = parse(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
    assert value(samples, "pixtools_jobs_finished_total", status="succeeded") == 1
    assert value(samples, "pixtools_step_duration_seconds_count",
                 op="resize", queue="standard") == 1
    assert value(samples, "pixtools_bytes_out_total") == job["outputs"][0]["bytes"]
    assert value(samples, "pixtools_task_events_total",
                 queue="standard", signal="executing") >= 1
    assert value(samples, "pixtools_jobs_submitted_total") == 0  # that happened in the API


def submitted_per_worker(directory: Path) -> dict[str, float]:
    counts = {}
    for path in directory.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "pixtools_jobs_submitted_total":
                    counts[path.stem] = sample.value
    return counts


def test_gunicorn_workers_are_summed_in_multiprocess_mode(tmp_path):
    from pixtools import create_app, db

    data_dir = tmp_path / "data"
    db.upgrade(create_app({"data_dir": data_dir, "secret_key": "s"}))
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    (prom_dir / "counter_1.db").write_bytes(b"left over from an earlier run")
    env = {"PIXTOOLS_MODE": "desktop", "PIXTOOLS_DATA_DIR": str(data_dir),
           "PIXTOOLS_SECRET_KEY": "s", "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)}
    api = Gunicorn(env, tmp_path / "gunicorn.log", workers=2)
    upload = make_image((32, 32))

    def submit(_: int) -> int:
        return requests.post(f"{api.url}/api/v1/jobs",
                             files={"file": ("a.jpg", upload, "image/jpeg")},
                             data={"recipe": RECIPE}, timeout=20).status_code

    try:
        api.wait_ready()
        assert not (prom_dir / "counter_1.db").exists()  # emptied at start
        submitted = 0
        with ThreadPoolExecutor(4) as pool:
            # Concurrent requests until both workers have taken some.
            while submitted < 40:
                assert set(pool.map(submit, range(4))) == {202}
                submitted += 4
                if sum(1 for n in submitted_per_worker(prom_dir).values() if n > 0) >= 2:
                    break
        per_worker = submitted_per_worker(prom_dir)
        assert sum(per_worker.values()) == submitted
        assert sum(1 for n in per_worker.values() if n > 0) >= 2, per_worker
        for _ in range(4):  # whichever worker answers, it reports the sum
            text = requests.get(f"{api.url}/metrics", timeout=5).text
            samples = parse(text)
            assert value(samples, "pixtools_jobs_submitted_total") == submitted
            assert value(samples, "flask_http_request_total", method="POST",
                         status="202") == submitted
            assert re.search(r'pixtools_queue_depth\{queue="standard"\} ' + str(submitted), text)
    finally:
        api.stop()
    assert os.listdir(prom_dir)


def test_grafana_dashboard_uses_only_metrics_the_app_exports(client):
    from tests.support.environment import REPO

    dashboard = json.loads((REPO / "ops" / "grafana" / "pixtools-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    text = client.get("/metrics").get_data(as_text=True)
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"] and panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"\b((?:pixtools|flask|process)_[a-z_]+)", target["expr"]))
    assert len(used) >= 12
    for name in sorted(used):
        base = re.sub(r"_(bucket|sum|count|total)$", "", name)
        assert base in families or name in families, f"{name} is not exported"


def test_server_mode_serves_metrics_on_the_metrics_port_only(server_env, server_app):
    from pixtools import create_app
    from tests.support.environment import settings_from_env

    app = create_app({**settings_from_env(server_env), "metrics_port": 9100})
    client = app.test_client()
    assert client.get("/metrics").status_code == 404  # the public port (what Ingress routes)
    scraped = client.get("/metrics", environ_overrides={"SERVER_PORT": "9100"})
    assert scraped.status_code == 200 and "pixtools_jobs_submitted_total" in scraped.get_data(
        as_text=True)
    unset = create_app(settings_from_env(server_env)).test_client()
    assert unset.get("/metrics", environ_overrides={"SERVER_PORT": "9100"}).status_code == 404
