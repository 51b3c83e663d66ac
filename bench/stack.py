"""Start and stop what the benchmarks measure, each on a free loopback port.

- ``pixtools_stack``: gunicorn (``gunicorn.conf.py``, ``WEB_CONCURRENCY`` processes) and one
  ``pixtools worker standard`` on a private PostgreSQL database and a private Redis queue
  prefix, storing on the local disk (``file://``) or in moto's S3 server;
- ``bare_stack``: ``bench.bare_app`` under the same gunicorn configuration;
- ``thumbor_stack``: thumbor from its own virtual environment (``bench/.cache``), file
  loader on the photo folder.

Everything started here is stopped (and the database dropped, the queue keys deleted) on
exit. Logs go to ``bench/.cache/logs``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.common import CACHE_DIR, REPO_ROOT

PG_ADMIN_URL = os.environ.get("PIXTOOLS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PIXTOOLS_TEST_REDIS", "redis://127.0.0.1:6379/0")
THUMBOR_VERSION = "7.8.0"
THUMBOR_VENV = CACHE_DIR / "thumbor-venv"
LOGS = CACHE_DIR / "logs"
WEB_WORKERS = 2  # gunicorn processes, set explicitly (gunicorn.conf.py reads WEB_CONCURRENCY)
CONSUMER_WORKERS = 2  # one standard consumer using both cores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s (see {LOGS})")
        time.sleep(0.2)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text().split():
                found += _tree(int(child))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) ``pid`` has used so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of proc(5), counted from the state (field 3) after the name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one process, in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]

    def children(self) -> list[int]:
        return _tree(self.popen.pid)[1:]

    def stop(self) -> None:
        # Forking servers (thumbor) may leave their children behind: stop those too.
        children = self.children()
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGCONT)
                self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def start(name: str, args: list[str], env: dict[str, str] | None = None,
          cwd: Path = REPO_ROOT) -> Proc:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("wb")
    popen = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})},
                             stdout=log, stderr=subprocess.STDOUT)
    return Proc(name, popen)


def gunicorn_args(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(WEB_WORKERS), app]


@dataclass
class Stack:
    url: str
    web: Proc
    consumer: Proc | None = None
    env: dict[str, str] = field(default_factory=dict)
    key: str | None = None  # a PixTools API key (server mode requires one)
    redis: Proc | None = None  # the stack's own redis-server, when it has one

    def web_workers(self) -> list[int]:
        return self.web.children()

    def peak_rss(self) -> dict[str, float]:
        """Peak RSS in MB of the largest web worker and of the consumer process."""
        figures = {"web worker": max((peak_rss_mb(p) for p in self.web_workers()), default=0)}
        if self.consumer is not None:
            figures["consumer"] = peak_rss_mb(self.consumer.popen.pid)
        return figures

    def pause_consumer(self, paused: bool) -> None:
        # The consumer and its worker processes: stopping the consumer alone leaves them
        # running the tasks the measurement means to keep away.
        if self.consumer is not None:
            for pid in [self.consumer.popen.pid, *self.consumer.children()]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)


@contextlib.contextmanager
def private_database() -> Iterator[str]:
    import psycopg2

    name = f"pixtools_bench_{secrets.token_hex(4)}"
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _drop_queue_keys(prefix: str, url: str = REDIS_URL) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def own_redis() -> Iterator[tuple[str, Proc | None]]:
    """A redis-server of the stack's own (its CPU and commands are the stack's alone), or
    the shared one at ``REDIS_URL`` where ``redis-server`` is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield REDIS_URL, None
        return
    port = free_port()
    proc = start(f"redis-{port}", [binary, "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"])
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.stop()


@contextlib.contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """moto's S3 server in its own process, with a fresh bucket."""
    import boto3

    port = free_port()
    creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
             "AWS_DEFAULT_REGION": "us-east-1"}
    proc = start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                          "-p", str(port)], creds)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_http(endpoint)
        bucket = f"bench-{secrets.token_hex(4)}"
        os.environ.update(creds)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield {**creds, "PIXTOOLS_STORAGE_URL": f"s3://{bucket}/images",
               "PIXTOOLS_S3_ENDPOINT_URL": endpoint}
    finally:
        proc.stop()


@contextlib.contextmanager
def pixtools_stack(name: str, storage: str = "local",
                   private_redis: bool = False) -> Iterator[Stack]:
    """PixTools in server mode; ``storage`` is ``local`` (a temporary folder) or ``s3``;
    ``private_redis`` gives it a redis-server of its own (see ``own_redis``)."""
    prefix = f"bench_{secrets.token_hex(4)}"
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(private_database())
        redis_url, redis_proc = REDIS_URL, None
        if private_redis:
            redis_url, redis_proc = stack.enter_context(own_redis())
        if storage == "s3":
            storage_env = stack.enter_context(moto_s3())
        else:
            folder = Path(tempfile.mkdtemp(prefix="pixtools-bench-"))
            stack.callback(shutil.rmtree, folder, True)
            storage_env = {"PIXTOOLS_STORAGE_URL": folder.as_uri()}
        env = {"PIXTOOLS_MODE": "server", "PIXTOOLS_DATABASE_URL": database,
               "PIXTOOLS_REDIS_URL": redis_url, "PIXTOOLS_SECRET_KEY": secrets.token_urlsafe(32),
               "PIXTOOLS_QUEUE_PREFIX": prefix, "WEB_CONCURRENCY": str(WEB_WORKERS),
               # Counted as usual, but a run submits more than a client normally may.
               "PIXTOOLS_SUBMIT_RATE_LIMIT": "100000/minute",
               **storage_env}
        stack.callback(_drop_queue_keys, prefix, redis_url)
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                       cwd=REPO_ROOT, env={**os.environ, **env}, check=True,
                       capture_output=True)
        made = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "pixtools",
                               "apikey", "create", "--name", "bench"], cwd=REPO_ROOT,
                              env={**os.environ, **env}, check=True, capture_output=True,
                              text=True)
        key = made.stdout.strip().splitlines()[-1]
        port = free_port()
        web = start(f"{name}-gunicorn", gunicorn_args("wsgi:app", port), env)
        stack.callback(web.stop)
        consumer = start(f"{name}-consumer", [sys.executable, "-m", "pixtools", "worker",
                                              "standard", "-w", str(CONSUMER_WORKERS)], env)
        stack.callback(consumer.stop)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/api/health")
        yield Stack(url=url, web=web, consumer=consumer, env=env, key=key, redis=redis_proc)


@contextlib.contextmanager
def desktop_stack() -> Iterator[Stack]:
    """PixTools in desktop mode, as ``pixtools desktop`` runs it: one process (web server
    and both consumers), SQLite, files in a temporary folder; no API key needed."""
    folder = Path(tempfile.mkdtemp(prefix="pixtools-bench-desktop-"))
    port = free_port()
    web = start("desktop", [sys.executable, "-m", "pixtools", "desktop", "--no-browser",
                            "--port", str(port), "--data-dir", str(folder)],
                {"PIXTOOLS_SUBMIT_RATE_LIMIT": "100000/minute"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/api/health")
        yield Stack(url=url, web=web)
    finally:
        web.stop()
        shutil.rmtree(folder, True)


@contextlib.contextmanager
def bare_stack() -> Iterator[Stack]:
    port = free_port()
    web = start("bare-gunicorn", gunicorn_args("bench.bare_app:app", port),
                {"WEB_CONCURRENCY": str(WEB_WORKERS)})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health")
        yield Stack(url=url, web=web)
    finally:
        web.stop()


def thumbor_available() -> str | None:
    """None when thumbor is installed, else why not (and how to install it)."""
    binary = THUMBOR_VENV / "bin" / "thumbor"
    if binary.exists():
        return None
    return (f"thumbor is not installed: python3.11 -m venv {THUMBOR_VENV} && "
            f"{THUMBOR_VENV}/bin/pip install thumbor=={THUMBOR_VERSION}")


def install_thumbor() -> str | None:
    """Install the pinned thumbor into its own virtual environment; None when it worked."""
    if thumbor_available() is None:
        return None
    python = shutil.which("python3.11") or sys.executable
    try:
        subprocess.run([python, "-m", "venv", str(THUMBOR_VENV)], check=True,
                       capture_output=True)
        subprocess.run([str(THUMBOR_VENV / "bin" / "pip"), "install", "-q",
                        f"thumbor=={THUMBOR_VERSION}"], check=True, capture_output=True,
                       timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"thumbor {THUMBOR_VERSION} could not be installed from PyPI here ({exc})"
    return thumbor_available()


@contextlib.contextmanager
def thumbor_stack(photos: Path, processes: int = 2) -> Iterator[Stack]:
    conf = CACHE_DIR / "thumbor.conf"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(photos)!r}\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
        "QUALITY = 80\n"
        "ALLOW_UNSAFE_URL = True\n"
    )
    port = free_port()
    web = start("thumbor", [str(THUMBOR_VENV / "bin" / "thumbor"), "-c", str(conf),
                            "-i", "127.0.0.1", "-p", str(port),
                            "--processes", str(processes)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthcheck")
        yield Stack(url=url, web=web)
    finally:
        web.stop()
