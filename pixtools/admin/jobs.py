"""``pixtools jobs list|show|failed|retry``: look at jobs without opening the database,
list dead letters, and run failed jobs again."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import jobs as job_service
from ..db import db
from ..errors import PixToolsError
from ..models import Job, Status

STATUSES = tuple(status.value for status in Status)
JOB_ID_COMMAND: dict[str, Any] = {"ignore_unknown_options": True}
"""Settings for a command whose argument is a job id: an id made before ids stopped
beginning with "-" is taken as the id, not refused as an unknown option."""


@click.group("jobs", cls=AppGroup)
def jobs() -> None:
    """List, inspect and re-drive jobs."""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def job_record(job: Job) -> dict[str, Any]:
    """Everything an operator needs about a job (storage keys, never signed links)."""
    return job_service.view(job).to_record()


@jobs.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs with this status.")
@click.option("--owner", help="Only jobs of this owner id.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many jobs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_jobs(status: str | None, owner: str | None, limit: int, as_json: bool) -> None:
    """List the newest jobs."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if owner:
        query = query.where(Job.owner == owner)
    found = db.session.scalars(query).all()
    if as_json:
        click.echo(json.dumps([job_record(job) for job in found], indent=2))
        return
    if not found:
        click.echo("No jobs match.")
        return
    click.echo(f"{'ID':<24} {'STATUS':<10} {'CREATED (UTC)':<19} {'EXPIRES (UTC)':<19} "
               f"{'OUT':>3}  SOURCE")
    for job in found:
        source = f"{job.source_name} ({job.source_format} {job.source_width}×{job.source_height})"
        click.echo(f"{job.id:<24} {job.status:<10} {_when(job.created_at):<19} "
                   f"{_when(job.expires_at):<19} {len(job.outputs):>3}  {source}")


@jobs.command("show", context_settings=JOB_ID_COMMAND)
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(job_id: str, as_json: bool) -> None:
    """Show one job with its outputs and steps."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(
            f"No job {job_id!r}: check the id (`pixtools jobs list` shows recent ones)."
        )
    record = job_record(job)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(f"Job {job.id}: {job.status}" + (f" — {job.error}" if job.error else ""))
    click.echo(f"  owner {job.owner}, request id {job.request_id or '-'}")
    click.echo(f"  created {_when(job.created_at)}, finished {_when(job.finished_at)}, "
               f"expires {_when(job.expires_at)} (UTC)")
    click.echo(f"  source {job.source_name!r}: {job.source_format} "
               f"{job.source_width}×{job.source_height}, {job.source_bytes} bytes "
               f"at {job.source_key}")
    for output in job.outputs:
        result = (f"{output.format} {output.width}×{output.height}, {output.bytes} bytes at "
                  f"{output.result_key}" if output.result_key else output.error or "")
        click.echo(f"  output {output.position + 1}: {output.status} {result}".rstrip())
        for step in output.steps:
            params = json.dumps(step.params, sort_keys=True)
            line = f"    step {step.position + 1} {step.op} {params} on {step.queue}: {step.status}"
            if step.status == Status.RUNNING:
                line += f" ({step.progress}%)"
            if step.error:
                line += f" — {step.error}"
            click.echo(line)


@jobs.command("failed")
@click.option("--all", "include_retried", is_flag=True,
              help="Include dead letters whose job was retried since.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="Show at most this many, newest first.")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Print the last traceback of each (when the step raised one).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def failed(include_retried: bool, limit: int, show_traceback: bool, as_json: bool) -> None:
    """List steps that failed for a reason other than their input (dead letters).

    These are steps whose worker vanished on every attempt, that crashed, or that could
    not reach storage. Re-drive a job with ``pixtools jobs retry JOB_ID``.
    """
    letters = job_service.dead_letters(include_retried=include_retried, limit=limit)
    if as_json:
        for letter in letters:
            row = job_service.describe(letter)
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
        row = job_service.describe(letter)
        retried = "  [retried]" if letter.retried_at else ""
        click.echo(
            f"{letter.created_at:%Y-%m-%d %H:%M:%S}  {row['job_id']:<24} {row['output']:>6} "
            f"{row['step']:>4} {row['op']:<10} {row['queue']:<8} {row['attempts']:>5}  "
            f"{row['error']}{retried}"
        )
        if show_traceback and letter.traceback:
            click.echo("    " + letter.traceback.rstrip().replace("\n", "\n    "))


@jobs.command("retry", context_settings=JOB_ID_COMMAND)
@click.argument("job_id")
def retry(job_id: str) -> None:
    """Run a failed job again from the step where each failed output stopped."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id!r}: check the id (see 'jobs failed').")
    try:
        restarted = job_service.retry(job)
    except PixToolsError as exc:
        raise click.ClickException(exc.message) from None
    for step in restarted:
        click.echo(f"output {step.output.position + 1}: queued again from step "
                   f"{step.position + 1} ({step.op}) on the {step.queue} queue")
    click.echo(f"Job {job_id} is queued again.")
