"""``pixtools model fetch|verify``: the DnCNN weights the ml workers need."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..ml import weights


@click.group("model", cls=AppGroup)
def model() -> None:
    """The DnCNN denoise weights (PIXTOOLS_DNCNN_WEIGHTS)."""


def _path(path: Path | None) -> Path:
    return path or Path(current_app.extensions["pixtools.settings"].dncnn_weights)


@model.command("verify")
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path),
              help="Weights file [default: PIXTOOLS_DNCNN_WEIGHTS].")
def verify(path: Path | None) -> None:
    """Check that the weights file is the released one (by sha256)."""
    target = _path(path)
    try:
        weights.verify(target)
    except weights.WeightsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"DnCNN weights OK at {target} (sha256 {weights.EXPECTED_SHA256}).")


@model.command("fetch")
@click.option("--url", default=weights.UPSTREAM_URL, show_default=True,
              help="Where to download them from (a mirror, for machines without internet).")
@click.option("--force", is_flag=True, help="Download even when a valid file is present.")
def fetch(url: str, force: bool) -> None:
    """Download the weights to PIXTOOLS_DNCNN_WEIGHTS, verified before they replace anything."""
    target = _path(None)
    if not force:
        try:
            weights.verify(target)
        except weights.WeightsError:
            pass
        else:
            click.echo(f"DnCNN weights already present and valid at {target}.")
            return
    try:
        weights.fetch(target, url=url)
    except weights.WeightsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"DnCNN weights downloaded and verified at {target}.")
