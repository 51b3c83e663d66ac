"""``flask pixtools …``: the operator's commands, one module per topic, registered here.

A topic is a click command or group in ``pixtools/admin/<topic>.py``; adding one is writing
that module and one entry in ``COMMANDS``. Commands run inside the app (``with_appcontext``),
so they see the same settings, database and storage as the server.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .admin.cleanup import cleanup
from .admin.jobs import jobs
from .admin.lifecycle import lifecycle
from .admin.model import model

COMMANDS: tuple[click.Command, ...] = (cleanup, jobs, lifecycle, model)

group = AppGroup(
    "pixtools",
    help="PixTools maintenance: jobs, cleanup, storage lifecycle rules, model weights.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command in COMMANDS:
    group.add_command(command)


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
