"""The ``pixtools`` command: run PixTools and administer it.

- ``pixtools desktop``: everything in one process (desktop mode);
- ``pixtools worker standard|ml|webhooks``: one queue's consumer (server mode);
- ``pixtools db upgrade``: migrate the database (Flask-Migrate's commands);
- ``pixtools apikey|jobs|model|cleanup|lifecycle …``: the operator's commands (``admin``).

It is a Flask CLI group around ``create_app``, so every ``flask`` command of the app works
here too (``pixtools routes``, ``pixtools shell``), with settings from ``PIXTOOLS_*``. The
same operator's commands stay reachable as ``flask --app wsgi pixtools …``.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import FlaskGroup

from . import admin, desktop, worker
from .app import create_app
from .config import ConfigError


class _Commands(FlaskGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        # The app's own ``pixtools`` group (for ``flask --app wsgi pixtools …``) holds the
        # same commands as this one's top level: listing it here would only repeat them.
        return [name for name in super().list_commands(ctx) if name != "pixtools"]


main = _Commands(
    name="pixtools",
    help="PixTools: a self-hostable image-processing service.",
    create_app=lambda: create_app(),
    add_version_option=False,
    # The app reads its own settings; a stray .env must not change what an operator runs.
    load_dotenv=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command in admin.COMMANDS:
    main.add_command(command)


@main.command("desktop")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database, queue and files live "
                   "[default: $PIXTOOLS_DATA_DIR or ~/.local/share/pixtools].")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
def desktop_command(host: str, port: int, data_dir: Path | None, no_browser: bool) -> None:
    """Run everything in one process: web server and both queue consumers."""
    try:
        desktop.run(host=host, port=port, data_dir=data_dir, open_browser=not no_browser)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("worker")
@click.argument("queue", type=click.Choice(["standard", "ml", "webhooks"]))
@click.option("-w", "--workers", type=click.IntRange(1, 64),
              help="Concurrent tasks [default: standard: PIXTOOLS_STANDARD_WORKERS, ml: 1, "
                   "webhooks: PIXTOOLS_WEBHOOK_WORKERS].")
@click.option("--no-periodic", is_flag=True,
              help="Do not run periodic tasks (run them in exactly one consumer).")
@click.option("-k", "--worker-type", type=click.Choice(worker.WORKER_TYPES),
              help="Run tasks in worker processes or threads [default: standard: process, "
                   "ml and webhooks: thread].")
def worker_command(queue: str, workers: int | None, no_periodic: bool,
                   worker_type: str | None) -> None:
    """Run the consumer for one queue until SIGINT (finishes the current task) or SIGTERM."""
    try:
        worker.run(queue, workers=workers, periodic=not no_periodic, worker_type=worker_type)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
