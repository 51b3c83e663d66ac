"""``pixtools cleanup [--dry-run]``."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from ..jobs import expiry as cleaning


@click.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option(
    "--orphan-grace-minutes", type=click.IntRange(min=0), show_default=True,
    default=int(cleaning.ORPHAN_GRACE.total_seconds() // 60),
    help="Keep objects without a job row while younger than this (an upload may be "
         "finishing).",
)
@with_appcontext
def cleanup(dry_run: bool, orphan_grace_minutes: int) -> None:
    """Expire jobs past their time (files deleted, row marked expired) and remove orphan
    objects that no live job owns. The standard consumer also runs this periodically."""
    report = cleaning.cleanup(dry_run=dry_run, orphan_grace=timedelta(minutes=orphan_grace_minutes))
    for line in report.lines():
        click.echo(line)
    if report.errors:
        raise click.ClickException(
            f"{len(report.errors)} item(s) could not be cleaned (see above); "
            "they are retried on the next run."
        )
