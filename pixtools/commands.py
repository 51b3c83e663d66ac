"""``flask pixtools …``: the operator's commands, one module per topic, registered here.

A topic is a click command or group in its own module (``pixtools/admin/<topic>.py``);
adding one is writing that module and one entry in ``COMMANDS``. Commands run inside the
app (``with_appcontext``), so they see the same settings, database and storage as the server.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from . import commands_jobs
from .admin.cleanup import cleanup
from .admin.jobs import jobs
from .admin.lifecycle import lifecycle
from .admin.model import model
from .commands_apikey import apikey

COMMANDS: tuple[click.Command, ...] = (apikey, cleanup, jobs, lifecycle, model)
# One `jobs` group: list and show, and the recovery's failed and retry.
for job_command in (commands_jobs.failed, commands_jobs.retry):
    jobs.add_command(job_command)

group = AppGroup(
    "pixtools",
    help="PixTools administration: jobs, cleanup, storage lifecycle, model weights, API keys.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command in COMMANDS:
    group.add_command(command)


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
