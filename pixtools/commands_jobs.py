"""``flask pixtools jobs failed|retry``: list dead letters and run failed jobs again."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from . import jobs, recovery
from .admin import JOB_ID_COMMAND
from .db import db
from .errors import PixToolsError
from .models import Job

# Both join ``flask pixtools jobs`` (with list and show) in ``pixtools.commands``.


@click.command("failed")
@click.option("--all", "include_retried", is_flag=True,
              help="Include dead letters whose job was retried since.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="Show at most this many, newest first.")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Print the last traceback of each (when the step raised one).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_appcontext
def failed(include_retried: bool, limit: int, show_traceback: bool, as_json: bool) -> None:
    """List steps that failed for a reason other than their input (dead letters).

    These are steps whose worker vanished on every attempt, that crashed, or that could
    not reach storage. Re-drive a job with ``flask pixtools jobs retry JOB_ID``.
    """
    letters = recovery.dead_letters(include_retried=include_retried, limit=limit)
    if as_json:
        for letter in letters:
            row = recovery.describe(letter)
            if show_traceback:
                row["traceback"] = letter.traceback
            click.echo(json.dumps(row))
        return
    if not letters:
        click.echo("No failed steps waiting for a retry.")
        return
    click.echo(f"{'failed at (UTC)':<20} {'job':<24} {'output':>6} {'step':>4} {'op':<10} "
               f"{'queue':<8} {'tries':>5}  error")
    for letter in letters:
        row = recovery.describe(letter)
        retried = "  [retried]" if letter.retried_at else ""
        click.echo(
            f"{letter.created_at:%Y-%m-%d %H:%M:%S}  {row['job_id']:<24} {row['output']:>6} "
            f"{row['step']:>4} {row['op']:<10} {row['queue']:<8} {row['attempts']:>5}  "
            f"{row['error']}{retried}"
        )
        if show_traceback and letter.traceback:
            click.echo("    " + letter.traceback.rstrip().replace("\n", "\n    "))


@click.command("retry", context_settings=JOB_ID_COMMAND)
@click.argument("job_id")
@with_appcontext
def retry(job_id: str) -> None:
    """Run a failed job again from the step where each failed output stopped."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id!r}: check the id (see 'jobs failed').")
    try:
        restarted = jobs.retry(job)
    except PixToolsError as exc:
        raise click.ClickException(exc.message) from None
    for step in restarted:
        click.echo(f"output {step.output.position + 1}: queued again from step "
                   f"{step.position + 1} ({step.op}) on the {step.queue} queue")
    click.echo(f"Job {job_id} is queued again.")
