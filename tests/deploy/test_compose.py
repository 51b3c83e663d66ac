"""compose.yaml: one `docker compose up` gives a working server-mode stack."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.deploy.helpers import (
    REPO,
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
    # The secret key as scripts/compose-up.sh writes it to .env: 24 random bytes in hex.
    env["PIXTOOLS_SECRET_KEY"] = secrets.token_hex(24)
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


def test_links_are_signed_for_the_address_browsers_use():
    env = environment(SERVICES["api"])
    # The app reaches MinIO inside the network; links are signed for the published address.
    assert urlparse(env["PIXTOOLS_S3_ENDPOINT_URL"]).hostname == "minio"
    public = urlparse(env["PIXTOOLS_S3_PUBLIC_URL"])
    assert (public.hostname, public.port) == ("localhost", 9000)
    assert SERVICES["minio"]["ports"] == ["${MINIO_BIND:-127.0.0.1}:9000:9000"]
    assert "networks" not in SERVICES["minio"]  # no s3.localhost alias trick any more
    bucket = urlparse(env["PIXTOOLS_STORAGE_URL"]).netloc
    script = "\n".join(command_words(SERVICES["create-bucket"]["command"]))
    assert f"mc mb --ignore-existing local/{bucket}" in script
    assert f"mc admin user add local {env['AWS_ACCESS_KEY_ID']}" in script


def test_minio_is_published_on_loopback_by_default():
    (port,) = SERVICES["minio"]["ports"]
    assert interpolate(port) == "127.0.0.1:9000:9000"
    assert interpolate(port, {"MINIO_BIND": "0.0.0.0"}) == "0.0.0.0:9000:9000"
    assert all("9001" not in p for p in SERVICES["minio"]["ports"])  # the console stays inside


SECRETS = ("PIXTOOLS_SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD",
           "PIXTOOLS_S3_PASSWORD")


def test_secrets_are_required_from_the_environment():
    text = (REPO / "compose.yaml").read_text()
    for name in SECRETS:
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} is not required"
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} has a default"
    assert "POSTGRES_PASSWORD: pixtools" not in text
    # Without them nothing interpolates; with them the app's settings come out complete.
    with pytest.raises(KeyError, match="PIXTOOLS_SECRET_KEY"):
        interpolate(SERVICES["api"]["environment"]["PIXTOOLS_SECRET_KEY"], {})
    given = {name: f"s3cret-{n}" for n, name in enumerate(SECRETS)}
    api = {k: interpolate(str(v), given) for k, v in SERVICES["api"]["environment"].items()}
    assert api["PIXTOOLS_SECRET_KEY"] == given["PIXTOOLS_SECRET_KEY"]
    assert urlparse(api["PIXTOOLS_DATABASE_URL"]).password == given["POSTGRES_PASSWORD"]
    assert api["AWS_SECRET_ACCESS_KEY"] == given["PIXTOOLS_S3_PASSWORD"]


def test_one_command_start_writes_secrets_once_and_waits_for_the_api(tmp_path):
    """scripts/compose-up.sh with a stand-in for docker (no Docker engine runs here)."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "compose-up.sh", root / "scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text('#!/bin/sh\necho "$@" >> "$DOCKER_CALLS"\n')
    (bin_dir / "docker").chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_CALLS": str(calls)}

    def start() -> str:
        result = subprocess.run(["bash", str(root / "scripts" / "compose-up.sh")], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    output = start()
    assert "Open http://localhost:8000" in output
    dotenv = root / ".env"
    assert dotenv.stat().st_mode & 0o777 == 0o600
    values = dict(re.findall(r"^(\w+)=(\S+)$", dotenv.read_text(), re.M))
    assert set(values) == set(SECRETS)
    assert len(set(values.values())) == 4 and all(len(v) == 48 for v in values.values())
    assert calls.read_text().splitlines() == [
        "compose up --build --detach --wait --wait-timeout 600 api", "compose up --detach"]
    first = dotenv.read_text()
    assert "Wrote .env" not in start() and dotenv.read_text() == first  # kept, not regenerated
    # What compose.yaml requires is what the script provides.
    required = set(re.findall(r"\$\{(\w+):\?", (REPO / "compose.yaml").read_text()))
    assert required == set(SECRETS)


def test_api_published_on_8000_and_data_on_volumes():
    assert "8000:8000" in SERVICES["api"]["ports"]
    volumes = set(compose()["volumes"])
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data"),
                       ("minio", "/data")):
        mounts = dict(v.split(":", 1) for v in SERVICES[name]["volumes"])
        assert path in mounts.values(), name
        assert {k for k, v in mounts.items() if v == path} <= volumes
    # The weights are in the worker-ml image: no volume may shadow them.
    assert "volumes" not in SERVICES["worker-ml"]


def test_consumers_get_time_to_finish_their_task():
    def seconds(value: str) -> int:
        return int(value[:-1]) * {"s": 1, "m": 60}[value[-1]]

    for name in ("worker-standard", "scheduler", "worker-ml"):
        assert seconds(SERVICES[name]["stop_grace_period"]) >= 120, name
    assert seconds(SERVICES["worker-ml"]["stop_grace_period"]) >= seconds(
        SERVICES["worker-standard"]["stop_grace_period"])
