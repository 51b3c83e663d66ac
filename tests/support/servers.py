"""A real gunicorn serving ``wsgi:app`` in a subprocess, as production runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.support.environment import REPO, free_port, wait_for


class Gunicorn:
    def __init__(self, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(
            # The repository's gunicorn.conf.py, as the api image runs it.
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "--graceful-timeout", "5",
             "wsgi:app"],
            cwd=REPO, stdout=self.handle, stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        )

    def wait_ready(self, timeout: float = 60) -> None:
        def answering() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.output()}")
            try:
                return requests.get(f"{self.url}/api/health", timeout=5).status_code == 200
            except requests.RequestException:  # still booting
                return False

        wait_for(answering, timeout=timeout, interval=0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every log line as JSON; a line that is not JSON fails the test, naming it."""
    records = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("Coverage"):
            continue  # coverage's own notes when the suite measures subprocesses
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"log line is not JSON: {line!r}") from None
    return records
