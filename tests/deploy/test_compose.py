"""compose.yaml: one `docker compose up` gives a working server-mode stack."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.deploy.helpers import (
    check_cli,
    command_words,
    compose,
    dockerfile_stages,
    env_name_ok,
    final_instructions,
    interpolate,
    pixtools_image_target,
)

SERVICES = compose()["services"]
APP_SERVICES = {name: s for name, s in SERVICES.items()
                if pixtools_image_target(interpolate(s.get("image", "")))}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def image_command(service: dict[str, Any]) -> list[str]:
    """The Dockerfile's CMD for the service's target (what runs when compose sets none)."""
    target = service["build"]["target"]
    cmds = [v for i, v in final_instructions(target) if i == "CMD"]
    return [str(word) for word in json.loads(cmds[-1])]


def test_app_services_and_their_images():
    assert {"api", "worker-standard", "worker-ml", "scheduler", "migrate"} <= set(APP_SERVICES)
    for name, service in APP_SERVICES.items():
        target = pixtools_image_target(interpolate(service["image"]))
        assert target in dockerfile_stages(), (name, target)
        # The image built for a service is the one its name says.
        assert service["build"]["target"] == target, name
        assert service["build"]["context"] == "."


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_every_variable_set_is_one_the_app_reads(name):
    unknown = [key for key in environment(APP_SERVICES[name]) if not env_name_ok(key)]
    assert not unknown, f"{name} sets variables no setting reads: {unknown}"


def test_settings_from_the_compose_file_validate_in_server_mode():
    from pixtools.config import load_settings

    env = environment(SERVICES["api"])
    settings = load_settings({k.removeprefix("PIXTOOLS_").lower(): v
                              for k, v in env.items() if k.startswith("PIXTOOLS_")})
    assert settings.mode == "server"
    # Every service the URLs name is a service of the stack.
    for url in (settings.database_url, settings.redis_url):
        assert urlparse(url).hostname in SERVICES, url
    assert urlparse(settings.storage_url).netloc == "pixtools"


def test_commands_are_valid_and_periodic_tasks_run_exactly_once():
    periodic = []
    for name, service in APP_SERVICES.items():
        words = command_words(service.get("command")) or image_command(service)
        if words[0] != "gunicorn":
            assert check_cli(words) in (None, "pending"), name
        if words[:3] == ["pixtools", "worker", "standard"] and "--no-periodic" not in words:
            periodic.append(name)
    assert periodic == ["scheduler"]
    assert "replicas" not in SERVICES["scheduler"].get("deploy", {})
    assert command_words(SERVICES["migrate"]["command"]) == [
        "flask", "--app", "wsgi", "db", "upgrade"]


def test_start_order_follows_health():
    for name in ("postgres", "redis", "minio"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker-standard", "worker-ml", "scheduler"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["create-bucket"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert SERVICES["create-bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_s3_endpoint_resolves_in_the_network_and_in_a_browser():
    env = environment(SERVICES["api"])
    endpoint = urlparse(env["PIXTOOLS_S3_ENDPOINT_URL"])
    # Download links are signed for this host: it must be MinIO's alias inside the network
    # and a *.localhost name (loopback in browsers) published on the same port.
    assert endpoint.hostname in SERVICES["minio"]["networks"]["default"]["aliases"]
    assert endpoint.hostname.endswith(".localhost")
    assert f"{endpoint.port}:{endpoint.port}" in SERVICES["minio"]["ports"]
    bucket = urlparse(env["PIXTOOLS_STORAGE_URL"]).netloc
    script = "\n".join(command_words(SERVICES["create-bucket"]["command"]))
    assert f"mc mb --ignore-existing local/{bucket}" in script
    assert f"mc admin user add local {env['AWS_ACCESS_KEY_ID']}" in script


def test_api_published_on_8000_and_data_on_volumes():
    assert "8000:8000" in SERVICES["api"]["ports"]
    volumes = set(compose()["volumes"])
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data"),
                       ("minio", "/data"), ("worker-ml", "/app/models")):
        mounts = dict(v.split(":", 1) for v in SERVICES[name]["volumes"])
        assert path in mounts.values(), name
        assert {k for k, v in mounts.items() if v == path} <= volumes


def test_consumers_get_time_to_finish_their_task():
    def seconds(value: str) -> int:
        return int(value[:-1]) * {"s": 1, "m": 60}[value[-1]]

    for name in ("worker-standard", "scheduler", "worker-ml"):
        assert seconds(SERVICES[name]["stop_grace_period"]) >= 120, name
    assert seconds(SERVICES["worker-ml"]["stop_grace_period"]) >= seconds(
        SERVICES["worker-standard"]["stop_grace_period"])
