"""A real webhook receiver on loopback (an HTTP server in a thread), the spec's signature
computed independently, and shortcuts for submitting, running and delivering a job."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"ok"


class Receiver:
    """Records every request; answers from a script of replies, then with ``default``."""

    def __init__(self, tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                        time.time()))
                    reply = receiver.script.pop(0) if receiver.script else receiver.default
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks signature, computed independently of PixTools' code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def assert_signed(request: Received, secret: str) -> None:
    headers = request.headers
    expected = spec_signature(secret, headers["webhook-id"], headers["webhook-timestamp"],
                              request.body)
    assert expected in headers["webhook-signature"].split(" ")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300


def submit(client: Any, webhook_url: str | list[str] | None, size=(32, 24), **kw: Any) -> Any:
    form: dict[str, Any] = {"file": (io.BytesIO(make_image(size)), "pic.jpg"), "recipe": RECIPE}
    if webhook_url is not None:
        form["webhook_url"] = webhook_url
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data", **kw)


def run_job(job_id: str) -> None:
    """Run a job's steps in this process, as a consumer would (desktop tests, no consumers)."""
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks import pipeline

    job = db.session.get(Job, job_id)
    for step_id in [output.steps[0].id for output in job.outputs]:
        pipeline.run_steps(step_id)


def only_delivery(job_id: str) -> Any:
    from sqlalchemy import select

    from pixtools.db import db
    from pixtools.models import WebhookDelivery

    db.session.expire_all()
    rows = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).scalars().all()
    assert len(rows) == 1, rows
    return rows[0]



def attempt(delivery_id: str) -> float | None:
    """One attempt at a delivery, as the ``deliver_webhook`` task makes it."""
    from pixtools import jobs
    from pixtools.webhooks import delivery

    return delivery.attempt(delivery_id, jobs.event_body)


class DripReceiver:
    """A hostile receiver: reads the request, then sends one byte every ``every`` seconds,
    forever (until the client hangs up). Records when each connection opened and closed."""

    def __init__(self, every: float = 1.0) -> None:
        import socket

        self.every = every
        self.connections: list[tuple[float, float | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/drip") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: Any) -> None:
        with self._lock:
            index = len(self.connections)
            self.connections.append((time.monotonic(), None))
        conn.settimeout(self.every)
        with contextlib.suppress(OSError):
            conn.recv(65536)  # the request (small: one event)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            if self._stop.is_set():
                break
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            if _hung_up(conn, self.every):
                break
        with self._lock:
            self.connections[index] = (self.connections[index][0], time.monotonic())
        conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


def _hung_up(conn: Any, wait: float) -> bool:
    """Wait ``wait`` seconds; True as soon as the peer closes the connection."""
    import select

    readable, _, _ = select.select([conn], [], [], wait)
    if not readable:
        return False
    try:
        return conn.recv(4096) == b""
    except OSError:
        return True
