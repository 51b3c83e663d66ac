"""Driving the page in Chromium: screenshots, dropping files, watching the CSP, and a
*blocker* (a job whose source is a named pipe the test writes when it chooses), which makes
"queued" and "running" observable without sleeping."""

from __future__ import annotations

import base64
import errno
import io
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from tests.support.environment import REPO, wait_for
from tests.support.processes import Process

ARTIFACTS = REPO / "test-artifacts"


DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 375, "height": 812}


# Records Content-Security-Policy violations so tests can assert there are none.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.sourceFile || '') + ' '
    + (e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 120) : ''));
}, true);
"""


def csp_violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


STICKY_IN_PLACE = """(position) => document.querySelectorAll('.submit-bar')
  .forEach((bar) => { bar.style.position = position; })"""


def shoot(target: Any, name: str) -> Path:
    """Save a screenshot of a page or an element under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    options: dict[str, Any] = {"path": str(path), "animations": "disabled", "caret": "initial"}
    whole = hasattr(target, "goto")
    if whole:  # a whole page: from the top, nothing focused, all of it
        target.evaluate("document.activeElement && document.activeElement.blur()")
        target.evaluate("window.scrollTo(0, 0)")
        options["full_page"] = True
        # A sticky bar would be drawn where the first screen ends: show it in its place.
        target.evaluate(STICKY_IN_PLACE, "static")
    target.screenshot(**options)
    if whole:
        target.evaluate(STICKY_IN_PLACE, "")
    assert path.stat().st_size > 1000
    return path


def drop_files(page: Any, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drag files from "outside" and drop them on ``selector``, as a person would."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data, type] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, {type}));
            }
            return transfer;
        }""",
        [[name, base64.b64encode(data).decode(), kind] for name, data, kind in files],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def add_step(page: Any, op: str) -> Any:
    """Add ``op`` to the recipe builder ("+ Add step", then the operation); its section."""
    page.click("#add-step > summary")
    page.click(f"[data-add='{op}']")
    section = page.locator(f"#steps > .op[data-op='{op}']")
    section.wait_for()
    return section


def image_format(data: bytes) -> tuple[str, tuple[int, int]]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return str(image.format), image.size


@dataclass
class Server:
    """A running ``pixtools desktop`` and the folder its data lives in."""

    base: str
    data_dir: Path
    process: Process

    def files(self, prefix: str = "") -> list[Path]:
        root = self.data_dir / "files" / prefix
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def source(self, job_id: str) -> Path:
        return self.data_dir / "files" / "jobs" / job_id / "source"

    def stop(self) -> None:
        code = self.process.stop()
        assert code == 0, self.process.output()


def feed_pipe(path: Path, data: bytes, timeout: float = 60) -> None:
    """Write ``data`` into the named pipe once a worker has opened it for reading."""

    def open_writer() -> int | None:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: nobody reads the pipe yet
            if exc.errno != errno.ENXIO:
                raise
            return None

    fd = wait_for(open_writer, timeout=timeout, interval=0.05)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(data)


def pipe_in_place_of(path: Path) -> bytes:
    """Swap a stored source for a named pipe; return the bytes it held."""
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    return data


def plant_blocker(data_dir: Path) -> Path:
    """Queue a job whose source is a named pipe: the worker that takes it waits on the pipe.

    Written straight into the desktop server's database and queue (the test's own app on the
    same data folder), because its source must be a pipe before any worker can read it.
    """
    from pixtools import create_app, queues
    from pixtools.db import db
    from pixtools.models import QUEUED, Job, Output, Step, new_job_id, utcnow
    from pixtools.storage import LocalStorage, get_storage

    app = create_app({"mode": "desktop", "data_dir": data_dir})
    with app.app_context():
        storage = get_storage(app)
        assert isinstance(storage, LocalStorage)
        key = f"blockers/{new_job_id()}"
        pipe = storage.path(key)
        pipe.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(pipe)
        now = utcnow()
        job = Job(id=new_job_id(), owner="test:blocker", status=QUEUED, source_key=key,
                  source_name="blocker.png", source_format="png", source_width=8,
                  source_height=8, source_bytes=1, created_at=now,
                  expires_at=now + timedelta(hours=1))
        output = Output(position=0, status=QUEUED)
        output.steps = [Step(position=0, op="convert", params={"format": "png"},
                             queue="standard", status=QUEUED, progress=0)]
        job.outputs.append(output)
        db.session.add(job)
        db.session.commit()
        queues.enqueue_step(output.steps[0])
        db.session.remove()
        db.engine.dispose()
    return pipe

