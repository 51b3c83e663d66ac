"""The request-level attacks of the bad-input corpus: what a hostile user sends besides bad
uploads and recipes (those are ``generate``'s). Each names the settings it is tried
against and the answer it must get; ``tests/api/test_attacks.py`` sends every one, and
``tests/webhooks/test_isolation.py`` runs the hostile webhook receivers below."""

from __future__ import annotations

from dataclasses import dataclass, field

# Hostile webhook receivers (tests/support/webhooks.py runs them on loopback).
HUGE_RETRY_AFTER = "99999999999999999999"  # timedelta(seconds=1e20) overflows
DRIP_SECONDS = 1.0  # one byte of the answer every second, forever

DESKTOP: dict[str, object] = {}
SERVER_LOGIN = {"web_access": "login", "api_keys_required": None}
SERVER_PROXY = {"web_access": "proxy", "api_keys_required": None}
SERVER_OPEN_KEYS = {"web_access": "open", "api_keys_required": True}


@dataclass(frozen=True)
class Attack:
    name: str
    about: str
    mode: str  # desktop or server
    settings: dict[str, object]
    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)
    with_page_cookie: bool = False  # load the page first, as a browser would
    words: str = ""  # in the answer's body


ATTACKS = [
    Attack("forged_host_sandbox", "desktop: a sandbox made under a Host naming Redis's port",
           "desktop", DESKTOP, "POST", "/api/v1/sandboxes", 400,
           headers={"Host": "127.0.0.1:6379"}, words="does not answer"),
    Attack("forged_host_page", "desktop: the page under another site's name (DNS rebinding)",
           "desktop", DESKTOP, "GET", "/", 400, headers={"Host": "evil.example"}),
    Attack("cookie_only_api", "server, keys required: the page's anonymous cookie on the API",
           "server", SERVER_OPEN_KEYS, "GET", "/api/v1/jobs", 401, with_page_cookie=True,
           words="requires an API key"),
    Attack("no_session_page", "server, login mode: the page without signing in",
           "server", SERVER_LOGIN, "GET", "/", 302),
    Attack("no_session_api", "server, login mode: the API with nothing",
           "server", SERVER_LOGIN, "POST", "/api/v1/sandboxes", 401),
    Attack("login_wrong_key", "server, login mode: signing in with a made-up key",
           "server", SERVER_LOGIN, "POST", "/login", 403, words="CSRF"),
    Attack("proxy_header_from_client", "server, proxy mode: the user header sent by a client",
           "server", SERVER_PROXY, "GET", "/", 401,
           headers={"X-Forwarded-User": "admin"}, environ={"REMOTE_ADDR": "203.0.113.9"}),
    Attack("ready_details_without_token", "server: readiness details without the token",
           "server", {"ready_skip_checks": "weights"}, "GET", "/api/health/ready", 200,
           words='{"status":"ready"}'),
    Attack("metrics_on_public_port", "server: /metrics on the public port",
           "server", {"metrics_port": 9100}, "GET", "/metrics", 404),
]
