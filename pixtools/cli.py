"""The ``pixtools`` command: ``pixtools desktop`` and ``pixtools worker standard|ml``.

Administrative commands live under ``flask --app wsgi pixtools …`` (see ``commands``).
"""

from __future__ import annotations

from pathlib import Path

import click

from .config import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """PixTools: a self-hostable image-processing service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database, queue and files live "
                   "[default: $PIXTOOLS_DATA_DIR or ~/.local/share/pixtools].")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
def desktop(host: str, port: int, data_dir: Path | None, no_browser: bool) -> None:
    """Run everything in one process: web server and both queue consumers."""
    from . import desktop as desktop_mode

    try:
        desktop_mode.run(host=host, port=port, data_dir=data_dir, open_browser=not no_browser)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("queue", type=click.Choice(["standard", "ml"]))
@click.option("-w", "--workers", type=click.IntRange(1, 64),
              help="Concurrent tasks [default: standard: PIXTOOLS_STANDARD_WORKERS, ml: 1].")
@click.option("--no-periodic", is_flag=True,
              help="Do not run periodic tasks (run them in exactly one consumer).")
def worker(queue: str, workers: int | None, no_periodic: bool) -> None:
    """Run the consumer for one queue until SIGINT (finishes the current task) or SIGTERM."""
    from . import worker as worker_mode

    try:
        worker_mode.run(queue, workers=workers, periodic=not no_periodic)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
