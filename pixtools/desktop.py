"""Desktop mode: web server and the three consumers in one process, no services needed.

Webhook deliveries have a consumer of their own, so a slow receiver never holds up images.
"""

from __future__ import annotations

import logging
import signal
import threading
import webbrowser
from pathlib import Path
from types import FrameType

from flask import Flask
from huey.consumer import Consumer
from werkzeug.serving import make_server

from . import db
from .app import create_app, settle_heap
from .http import access
from .queues import get_queues
from .tasks.periodic import SweepTicker

log = logging.getLogger(__name__)


def own_hosts(host: str, port: int) -> tuple[str, ...]:
    """The ``Host`` values this process answers to: its own address and port (with the
    loopback names when it listens on loopback); any other is refused."""
    names = {host.lower()}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return tuple(sorted(f"{name}:{port}" for name in names))


def _consumers(app: Flask) -> list[Consumer]:
    """One consumer per queue, in this process: webhooks apart from image work."""
    queues, settings = get_queues(app), app.extensions["pixtools.settings"]
    pace = {"worker_type": "thread", "initial_delay": 0.05, "max_delay": 0.5, "backoff": 1.5}
    return [
        queues.standard.create_consumer(workers=settings.standard_workers, periodic=True,
                                        **pace),
        queues.ml.create_consumer(workers=1, periodic=False, **pace),
        queues.webhooks.create_consumer(workers=settings.webhook_workers, periodic=False,
                                        **pace),
    ]


def run(*, host: str, port: int, data_dir: Path | None, open_browser: bool) -> None:
    overrides: dict[str, object] = {"mode": "desktop"}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    app = create_app(overrides)
    db.upgrade(app)
    logging.getLogger("huey").setLevel(logging.WARNING)

    settings = app.extensions["pixtools.settings"]
    consumers = _consumers(app)
    for consumer in consumers:
        consumer.start()
    sweeper = SweepTicker(app)
    sweeper.start()
    settle_heap()

    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.server_port}/"
    if not settings.trusted_hosts:
        access.allow_hosts(app, own_hosts(host, server.server_port))

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    # Huey's consumer installed its own handlers; in desktop mode Ctrl-C stops everything.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    print(f"PixTools is running at {url}  (data in {settings.data_dir}; Ctrl-C stops it)",
          flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        print("Stopping: finishing running steps (at most a few seconds)…", flush=True)
        sweeper.stop()
        for consumer in consumers:
            consumer.shutdown_timeout = 5
            consumer.stop(graceful=True)
        print("Stopped.", flush=True)
