"""``pixtools lifecycle show|apply``: the bucket's lifecycle rules (server mode)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..storage import S3Storage, StorageError, get_storage
from ..storage import lifecycle as rules


@click.group("lifecycle", cls=AppGroup)
def lifecycle() -> None:
    """S3 lifecycle rules that expire job files after the retention period."""


def _explain_desktop() -> None:
    settings = current_app.extensions["pixtools.settings"]
    click.echo(
        rules.DESKTOP_EXPLANATION.format(
            where=settings.effective_storage_url, minutes=settings.cleanup_interval_minutes
        )
    )


@lifecycle.command("show")
def show() -> None:
    """Show the rules PixTools wants and the rules the bucket has now."""
    storage = get_storage(current_app)
    if not isinstance(storage, S3Storage):
        _explain_desktop()
        return
    settings = current_app.extensions["pixtools.settings"]
    click.echo(f"Bucket {storage.bucket!r}, retention {rules.retention_days(settings)} day(s) "
               f"(PIXTOOLS_JOB_TTL_HOURS={settings.job_ttl_hours:g}, rounded up).")
    click.echo("PixTools' rules:")
    for rule in rules.desired_rules(storage, settings):
        click.echo(f"  {rules.describe(rule)}")
    try:
        current = rules.current_rules(storage)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("In the bucket now:" if current else "In the bucket now: no lifecycle rules.")
    for rule in current:
        click.echo(f"  {rules.describe(rule)}")
    if rules.outdated(storage, settings, current):
        click.echo("Run `pixtools lifecycle apply` to write PixTools' rules.")


@lifecycle.command("apply")
def apply() -> None:
    """Write PixTools' rules to the bucket, keeping any other rules it has."""
    storage = get_storage(current_app)
    if not isinstance(storage, S3Storage):
        _explain_desktop()
        return
    settings = current_app.extensions["pixtools.settings"]
    try:
        current = rules.apply(storage, settings)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Lifecycle rules of bucket {storage.bucket!r} are now:")
    for rule in current:
        click.echo(f"  {rules.describe(rule)}")
