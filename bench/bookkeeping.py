"""The consumer's bookkeeping, measured in one process: CPU, statements and commits per task.

A server-mode app (its own PostgreSQL database, local storage, a private queue prefix)
records N jobs of a 64 × 48 PNG (resize, then convert to JPEG: one task on ``standard``),
then runs each job's task in this process, as a consumer thread would. The picture is so
small that Pillow's work is a fraction of a millisecond: what is left is the claim, the
lease, the step and output rows, the finalisation, the notice and the outbox.

    python -m bench.bookkeeping --jobs 200 --rounds 5

Prints CPU-ms per task (median of the rounds, and each round), and per task the SQL
statements and commits the consumer sent.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image
from sqlalchemy import event

from bench.stack import REDIS_URL, _drop_queue_keys, private_database

RECIPE = {"outputs": [{"steps": [
    {"op": "resize", "width": 32, "height": 32, "mode": "fit"},
    {"op": "convert", "format": "jpeg", "quality": 80},
]}]}


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


class Counter:
    """SQL statements and commits sent on the app's engine."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


def submit(client: Any, count: int, png: bytes) -> list[int]:
    from pixtools.models import Job

    ids = []
    for _ in range(count):
        reply = client.post("/api/v1/jobs", data={
            "file": (io.BytesIO(png), "tiny.png"), "recipe": json.dumps(RECIPE)},
            content_type="multipart/form-data")
        assert reply.status_code == 202, reply.get_json()
        ids.append(reply.get_json()["id"])
    from pixtools.db import db

    db.session.remove()
    return [db.session.get(Job, job_id).outputs[0].steps[0].id for job_id in ids]


def run_round(app: Any, client: Any, jobs: int, png: bytes, counter: Counter) -> dict[str, float]:
    from pixtools.db import db
    from pixtools.tasks.pipeline import run_steps

    step_ids = submit(client, jobs, png)
    db.session.remove()
    statements, commits = counter.statements, counter.commits
    started = time.process_time()
    for step_id in step_ids:
        with app.app_context():
            run_steps(step_id)
            db.session.remove()
    cpu = time.process_time() - started
    return {"cpu_ms": cpu * 1000 / jobs,
            "statements": (counter.statements - statements) / jobs,
            "commits": (counter.commits - commits) / jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="tasks per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from pixtools import create_app
    from pixtools import db as pixdb
    from pixtools.db import db

    prefix = f"bench_{secrets.token_hex(4)}"
    folder = Path(tempfile.mkdtemp(prefix="pixtools-bench-"))
    with private_database() as database:
        env = {"PIXTOOLS_MODE": "server", "PIXTOOLS_DATABASE_URL": database,
               "PIXTOOLS_REDIS_URL": os.environ.get("PIXTOOLS_REDIS_URL", REDIS_URL),
               "PIXTOOLS_STORAGE_URL": folder.as_uri(), "PIXTOOLS_QUEUE_PREFIX": prefix,
               "PIXTOOLS_SECRET_KEY": secrets.token_urlsafe(32),
               "PIXTOOLS_API_KEYS_REQUIRED": "false", "PIXTOOLS_WEB_ACCESS": "open",
               "PIXTOOLS_SUBMIT_RATE_LIMIT": "1000000/minute"}
        os.environ["PIXTOOLS_LOG_LEVEL"] = "WARNING"
        app = create_app({key.removeprefix("PIXTOOLS_").lower(): value
                          for key, value in env.items()})
        pixdb.upgrade(app)
        try:
            with app.app_context():
                counter = Counter(db.engine)
                client = app.test_client()
                png = tiny_png()
                run_round(app, client, 20, png, counter)  # warm caches and compiled SQL
                rounds = [run_round(app, client, args.jobs, png, counter)
                          for _ in range(args.rounds)]
                db.session.remove()
                db.engine.dispose()
        finally:
            _drop_queue_keys(prefix, env["PIXTOOLS_REDIS_URL"])
            shutil.rmtree(folder, True)
    cpu = [r["cpu_ms"] for r in rounds]
    print(f"consumer bookkeeping per task: {statistics.median(cpu):.2f} CPU-ms "
          f"(rounds {', '.join(f'{c:.2f}' for c in cpu)}); "
          f"{rounds[-1]['statements']:.1f} statements, {rounds[-1]['commits']:.1f} commits")


if __name__ == "__main__":
    main()
