"""``flask pixtools jobs list|show``: look at jobs without opening the database."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..db import db
from ..models import EXPIRED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from . import JOB_ID_COMMAND

STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED)


@click.group("jobs", cls=AppGroup)
def jobs() -> None:
    """List, inspect and re-drive jobs."""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_record(job: Job) -> dict[str, Any]:
    """Everything an operator needs about a job (storage keys, never signed links)."""
    return {
        "id": job.id,
        "status": job.status,
        "error": job.error,
        "owner": job.owner,
        "request_id": job.request_id,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "source": {
            "key": job.source_key, "name": job.source_name, "format": job.source_format,
            "width": job.source_width, "height": job.source_height, "bytes": job.source_bytes,
        },
        "outputs": [
            {
                "position": output.position, "status": output.status, "error": output.error,
                "format": output.format, "width": output.width, "height": output.height,
                "bytes": output.bytes, "result_key": output.result_key,
                "steps": [
                    {
                        "op": step.op, "params": step.params, "queue": step.queue,
                        "status": step.status, "progress": step.progress, "error": step.error,
                        "started_at": _iso(step.started_at),
                        "finished_at": _iso(step.finished_at),
                    }
                    for step in output.steps
                ],
            }
            for output in job.outputs
        ],
    }


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
            f"No job {job_id!r}: check the id (`flask pixtools jobs list` shows recent ones)."
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
            if step.status == RUNNING:
                line += f" ({step.progress}%)"
            if step.error:
                line += f" — {step.error}"
            click.echo(line)
