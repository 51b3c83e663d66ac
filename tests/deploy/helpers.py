"""What the deployment tests read: the Dockerfile, compose file, manifests and the app itself."""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "ops" / "k8s"
TERRAFORM = REPO / "ops" / "terraform"

# Routes and commands other parts of the code base are adding. Until they land they are
# reported as warnings here; once present in the app they are checked like the rest.
PENDING_ROUTES: set[str] = set()
PENDING_FLASK_COMMANDS: set[tuple[str, ...]] = set()

# Variables the deployment may set that the app does not read through Settings: boto3's
# credentials and region, and gunicorn's process count.
THIRD_PARTY_ENV = re.compile(r"^(AWS_[A-Z_]+|WEB_CONCURRENCY)$")


def allowed_env_names() -> set[str]:
    from pixtools.config import Settings

    return Settings.env_names()


def env_name_ok(name: str) -> bool:
    return name in allowed_env_names() or bool(THIRD_PARTY_ENV.match(name))


# --- Dockerfile ---------------------------------------------------------------------------


@functools.cache
def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name → its instructions (instruction, value), comments left out."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(str(REPO / "Dockerfile"))
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        if instruction == "FROM":
            words = value.split()
            name = words[words.index("AS") + 1] if "AS" in words else f"stage{len(stages)}"
            current = stages.setdefault(name, [])
        if current is not None:
            current.append((instruction, value))
    return stages


def stage_parent(stage: str) -> str | None:
    """The stage a stage is built FROM, when that is another stage of the Dockerfile."""
    base = dockerfile_stages()[stage][0][1].split()[0]
    return base if base in dockerfile_stages() else None


def stage_lineage(stage: str) -> list[str]:
    """The stage, the stages it derives from, and those it copies files from (recursively)."""
    seen: list[str] = []
    todo = [stage]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        parent = stage_parent(name)
        if parent:
            todo.append(parent)
        for instruction, value in dockerfile_stages()[name]:
            # COPY --from=stage, and RUN --mount=type=bind,from=stage,…
            match = re.search(r"--(?:mount=\S*?)?from=([\w-]+)", value)
            if instruction in ("COPY", "RUN") and match:
                todo.append(match.group(1))
    return seen


def final_instructions(stage: str) -> list[tuple[str, str]]:
    """Instructions whose results are layers of the stage's image (FROM chain, not COPY --from)."""
    chain = []
    name: str | None = stage
    while name:
        chain.append(name)
        name = stage_parent(name)
    return [item for name in reversed(chain) for item in dockerfile_stages()[name]]


def env_of(target: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, value in final_instructions(target):
        if instruction == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", value))
    return env


# --- Terraform ----------------------------------------------------------------------------

TF_FILES = sorted(TERRAFORM.glob("*.tf"))


def unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes on names and strings; the tests want plain values."""
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as handle:
        parsed: dict[str, Any] = unquote(hcl2.load(handle))
    return parsed


def blocks(kind: str) -> dict[str, Any]:
    """``resource`` → {"aws_s3_bucket.images": body, …}; ``variable`` → {"region": body, …}."""
    found: dict[str, Any] = {}
    for path in TF_FILES:
        for entry in parse(path).get(kind, []):
            for first, body in entry.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        found[f"{first}.{name}"] = inner
                else:
                    found[first] = body
    return found


# --- YAML ---------------------------------------------------------------------------------


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest file (kustomization files are checked separately)."""
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def k8s_objects() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifest_files():
        for doc in load_yaml_docs(path):
            yield path, doc


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_objects() if doc["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def workloads() -> dict[str, dict[str, Any]]:
    kinds = ("Deployment", "StatefulSet", "Job")
    return {doc["metadata"]["name"]: doc for _, doc in k8s_objects() if doc["kind"] in kinds}


def compose() -> dict[str, Any]:
    with (REPO / "compose.yaml").open() as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation: ${VAR:-default} and ${VAR:?message} (an error when unset).

    With no ``env``, every required variable reads as ``<VAR>``, so the rest can be checked.
    """
    def required(match: re.Match[str]) -> str:
        name = match.group(1)
        if env is None:
            return f"<{name}>"
        if not env.get(name):
            raise KeyError(f"{name}: {match.group(2)}")
        return env[name]

    value = re.sub(r"\$\{([A-Z0-9_]+):\?([^}]*)\}", required, value)
    return re.sub(r"\$\{([A-Z0-9_]+):-([^}]*)\}",
                  lambda m: (env or {}).get(m.group(1)) or m.group(2), value)


def command_words(command: Any) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def pixtools_image_target(image: str) -> str | None:
    """``pixtools/api:0.1.0`` or ``ghcr.io/org/pixtools/api:0.1.0`` → ``api``; others → None."""
    match = re.search(r"(?:^|/)pixtools/([a-z0-9-]+)(?::[^/]+)?$", image)
    return match.group(1) if match else None


# --- the app ------------------------------------------------------------------------------


@functools.cache
def server_app() -> Any:
    """The app in server mode. Building it opens no connection: nothing has to run."""
    from pixtools import create_app

    return create_app({
        "mode": "server",
        "database_url": "postgresql://pixtools@127.0.0.1:9/pixtools",
        "redis_url": "redis://127.0.0.1:9/0",
        "storage_url": "s3://pixtools/images",
        "secret_key": "deploy-test-secret-0123456789abcdef0123456789",
        "queue_prefix": "pixtools",
    })


def app_routes() -> set[str]:
    return {rule.rule for rule in server_app().url_map.iter_rules()}


def check_cli(words: list[str]) -> str | None:
    """Parse a command line as the container would run it; the problem, or None when valid.

    ``pixtools …`` goes through the click group; ``flask --app wsgi …`` through the app's
    commands (Flask-Migrate's ``db`` and PixTools' own group). Nothing is executed.
    """
    import click

    if words[:1] == ["pixtools"]:
        from pixtools.cli import main

        group: click.Group = main
        args = words[1:]
    elif words[:3] == ["flask", "--app", "wsgi"]:
        group = server_app().cli
        args = words[3:]
    else:
        return f"not a PixTools command: {words}"
    full = tuple(args)
    command: click.Command = group
    path: list[str] = []
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        path.append(args.pop(0))
        sub = command.commands.get(path[-1])
        if sub is None:
            if any(full[: len(pending)] == pending for pending in PENDING_FLASK_COMMANDS):
                return "pending"
            return f"no command {' '.join(path)!r} in {words}"
        command = sub
    try:
        command.make_context(" ".join(path) or "cmd", list(args), resilient_parsing=False)
    except click.ClickException as exc:
        return f"{words}: {exc.format_message()}"
    return None
