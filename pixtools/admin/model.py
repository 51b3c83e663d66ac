"""``pixtools model fetch|verify``: the denoise weights the ml workers need (DnCNN and the
two FFDNet models), each checked by its sha256."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..ml import weights

KINDS = {"dncnn": weights.DNCNN, "ffdnet": weights.FFDNET, "ffdnet_clip": weights.FFDNET_CLIP}


@click.group("model", cls=AppGroup)
def model() -> None:
    """The denoise weights (PIXTOOLS_DNCNN_WEIGHTS, PIXTOOLS_FFDNET_*; FFDNet's beside
    DnCNN's unless set)."""


def _paths() -> dict[str, Path]:
    config = current_app.extensions["pixtools.settings"].denoise_config
    return {kind: Path(config.path(kind)) for kind in KINDS}


@model.command("verify")
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path),
              help="Check this one file as the DnCNN weights [default: every model where "
                   "the settings put it].")
def verify(path: Path | None) -> None:
    """Check that the weights files are the released ones (by sha256)."""
    targets = {"dncnn": path} if path else _paths()
    problems = []
    for kind, target in targets.items():
        spec = KINDS[kind]
        try:
            weights.verify(target, spec)
        except weights.WeightsError as exc:
            problems.append(str(exc))
            continue
        click.echo(f"{spec.label} weights OK at {target} (sha256 {weights.sha256_of(target)}).")
    if problems:
        raise click.ClickException("\n".join(problems))


@model.command("fetch")
@click.option("--url", default=None,
              help="Where to download DnCNN's file from [default: BASE_URL/"
                   f"{weights.DNCNN.filename}].")
@click.option("--base-url", default=weights.UPSTREAM_BASE_URL, show_default=True,
              help="Where every model file is, under its released name (a mirror, for "
                   "machines without internet).")
@click.option("--force", is_flag=True, help="Download even when a valid file is present.")
def fetch(url: str | None, base_url: str, force: bool) -> None:
    """Download every model's weights, each verified before it replaces anything."""
    problems = []
    for kind, target in _paths().items():
        spec = KINDS[kind]
        source = url if kind == "dncnn" and url else spec.url(base_url)
        problem = _fetch_one(spec, target, source, force)
        if problem:
            problems.append(problem)
    if problems:
        raise click.ClickException("\n".join(problems))


def _fetch_one(spec: weights.WeightsSpec, target: Path, url: str, force: bool) -> str | None:
    """Fetch one file unless a valid one is there; what went wrong, or None."""
    if not force:
        try:
            weights.verify(target, spec)
        except weights.WeightsError:
            pass
        else:
            click.echo(f"{spec.label} weights already present and valid at {target}.")
            return None
    try:
        weights.fetch(target, url=url, spec=spec)
    except weights.WeightsError as exc:
        return str(exc)
    click.echo(f"{spec.label} weights downloaded and verified at {target}.")
    return None
