"""Logs for people and machines: readable lines when desktop mode writes to a terminal, JSON
otherwise, ``PIXTOOLS_LOG_FORMAT`` to choose; redaction in both."""

from __future__ import annotations

import logging
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.environment import REPO, free_port

TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR)\s+\S")


@pytest.fixture
def text_logs(app):
    from pixtools import logs

    logs.configure("INFO", "text")
    yield
    logs.configure("INFO", "json")


def test_text_lines_are_readable_and_redacted_like_json(text_logs, capsys):
    from pixtools import logs

    logs.bind(request_id="req-text-1")
    presigned = ("https://bucket.s3.amazonaws.com/a.png?X-Amz-Credential=AKIAEXAMPLE"
                 "&X-Amz-Signature=abcdef0123456789")
    logging.getLogger("pixtools.test").info(
        "download at %s", presigned,
        extra={"webhook_secret": "whsec_topsecret", "op": "resize",
               "target": "postgresql://pixtools:hunter2@db/pixtools",
               "headers": {"Authorization": "Bearer abcdefghijklmnop"}})
    try:
        raise RuntimeError("cannot reach redis://:s3cret-pass@cache:6379/0")
    except RuntimeError:
        logging.getLogger("pixtools.test").exception("failed")
    out = capsys.readouterr().err
    for secret in ("abcdef0123456789", "AKIAEXAMPLE", "whsec_topsecret", "hunter2",
                   "abcdefghijklmnop", "s3cret-pass"):
        assert secret not in out
    first, second = [line for line in out.splitlines() if TEXT_LINE.match(line)][-2:]
    assert not first.startswith("{")
    assert "INFO    download at https://bucket.s3.amazonaws.com/a.png?" in first
    assert "  " in first and "op=resize" in first and "request_id=req-text-1" in first
    assert "webhook_secret=[redacted]" in first
    assert "target=postgresql://pixtools:[redacted]@db/pixtools" in first
    assert second.split()[1:3] == ["ERROR", "failed"]
    assert "Traceback" in out and "redis://:[redacted]@cache" in out


def test_auto_is_text_only_for_desktop_mode_at_a_terminal(tmp_path):
    from pixtools.logs import choose_format

    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal, (tmp_path / "log").open("w") as file:
        assert choose_format("auto", "desktop", terminal) == "text"
        assert choose_format("auto", "desktop", file) == "json"
        assert choose_format("auto", "server", terminal) == "json"
        assert choose_format("json", "desktop", terminal) == "json"
        assert choose_format("text", "server", file) == "text"
    os.close(primary)


def desktop_lines(tmp_path: Path, extra_env: dict[str, str]) -> list[str]:
    """What ``pixtools desktop`` writes to its terminal (a pseudo-terminal) while it serves
    one request."""
    port = free_port()
    primary, secondary = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixtools", "desktop", "--no-browser", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    output = b""
    asked = False
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and b"request_id" not in output:
            if select.select([primary], [], [], 0.2)[0]:
                output += os.read(primary, 65536)
            if b"running at" in output and not asked:
                requests.get(f"http://127.0.0.1:{port}/api/v1/operations",
                             headers={"X-Request-ID": "term-42"}, timeout=30)
                asked = True
    finally:
        proc.send_signal(2)
        proc.wait(30)
        os.close(primary)
    return output.decode(errors="replace").replace("\r\n", "\n").splitlines()


def test_desktop_mode_at_a_terminal_writes_readable_lines(tmp_path):
    lines = desktop_lines(tmp_path, {"PIXTOOLS_LOG_FORMAT": "auto"})
    (request,) = [line for line in lines if "request_id=term-42" in line]
    assert TEXT_LINE.match(request), lines
    assert " INFO    request  " in request and "path=/api/v1/operations" in request
    assert "status=200" in request
    assert not [line for line in lines if line.startswith("{")], lines


def test_log_format_json_wins_even_at_a_terminal(tmp_path):
    import json

    lines = desktop_lines(tmp_path, {"PIXTOOLS_LOG_FORMAT": "json"})
    (request,) = [json.loads(line) for line in lines if '"term-42"' in line]
    assert request["message"] == "request" and request["path"] == "/api/v1/operations"
