"""The operator's commands, one module per topic: ``apikey``, ``cleanup``, ``jobs``,
``lifecycle`` and ``model``.

They are commands of ``pixtools`` itself (``pixtools jobs list``) and, for deployments that
call them so, of the ``pixtools`` group of the app's Flask CLI
(``flask --app wsgi pixtools jobs list``). Adding a topic is writing its module and one
entry in ``COMMANDS``. Commands run inside the app (``with_appcontext``), so they see the
same settings, database and storage as the server.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .apikey import apikey
from .cleanup import cleanup
from .jobs import jobs
from .lifecycle import lifecycle
from .model import model

COMMANDS: tuple[click.Command, ...] = (apikey, cleanup, jobs, lifecycle, model)


def group() -> AppGroup:
    """The commands as the ``pixtools`` group of an app's Flask CLI."""
    found = AppGroup(
        "pixtools",
        help="PixTools administration: jobs, cleanup, storage lifecycle, model weights, "
             "API keys.",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for command in COMMANDS:
        found.add_command(command)
    return found


def init_app(app: Flask) -> None:
    app.cli.add_command(group())
