"""py-spy profiles of the stack's processes while a benchmark runs, and a short summary.

``recording(folder, {"web": pids, ...})`` samples each process (``py-spy record --format
raw``: one line per distinct stack, ``frame;frame;… count``) into ``folder/<group>-<pid>.txt``
until the block ends; ``summary(folder)`` lists, per group, the functions that took the
most samples (inclusive: the function or anything it called; idle threads left out).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

RATE = 250  # samples per second per process
# Frames where a thread waits rather than works: samples under them are idle time.
IDLE = ("wait (threading", "select (selectors", "_recv (", "accept (", "poll (selectors",
        "get_message (", "sleep (", "BRPOP", "recv_into (", "_read_from_socket (",
        "_wait_for_tstate_lock", "dequeue (huey", "read_response (")


def py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # the virtual environment's own
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed (it is in the dev dependencies)")
    return found


@contextlib.contextmanager
def recording(folder: Path, groups: dict[str, list[int]], gil: bool = False) -> Iterator[None]:
    """``gil``: sample only the thread holding the GIL (Python's own CPU, without C code
    that releases it: image codecs, socket waits)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    running = [
        subprocess.Popen([py_spy(), "record", "--pid", str(pid), "--rate", str(RATE),
                          "--format", "raw", "--output", str(folder / f"{group}-{pid}.txt"),
                          "--nonblocking", "--threads", *(["--gil"] if gil else [])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for group, pids in groups.items() for pid in pids
    ]
    try:
        yield
    finally:
        for proc in running:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in running:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" → "function (module.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def summary(folder: Path, top: int = 25) -> str:
    lines = []
    for group in sorted({path.name.split("-")[0] for path in folder.glob("*.txt")}):
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        busy = idle = 0
        for path in folder.glob(f"{group}-*.txt"):
            for frames, count in _stacks(path):
                if any(marker in frame for frame in frames for marker in IDLE):
                    idle += count
                    continue
                busy += count
                for name in {_short(frame) for frame in frames if not frame.startswith(
                        ("thread (", "process "))}:
                    inclusive[name] += count
                own[_short(frames[-1])] += count
        lines += [f"### {group}: {busy} busy samples ({idle} idle left out)", "",
                  "| function (inclusive) | % | | function (own) | % |",
                  "| --- | --- | --- | --- | --- |"]
        first, second = inclusive.most_common(top), own.most_common(top)
        for (a, na), (b, nb) in zip(first, second, strict=False):
            lines.append(f"| {a} | {100 * na / max(busy, 1):.1f} | | {b} | "
                         f"{100 * nb / max(busy, 1):.1f} |")
        lines.append("")
    return "\n".join(lines)
