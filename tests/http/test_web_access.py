"""PIXTOOLS_WEB_ACCESS in server mode (login, proxy) and desktop mode's trusted hosts, with
the test client and in Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.http.test_access import bearer, post
from tests.support.environment import free_port, settings_from_env


def _app(server_env: dict[str, str], **settings: Any) -> Any:
    from pixtools import create_app
    from tests.support.contract import watch

    app = create_app({**settings_from_env(server_env), "api_keys_required": None, **settings})
    app.extensions["test.drifts"] = watch(app)
    return app


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the login form has no CSRF field"
    return match.group(1)


def _sign_in(client: Any, secret: str, next_path: str = "/") -> Any:
    form = client.get(f"/login?next={next_path}").get_data(as_text=True)
    return client.post("/login", data={"api_key": secret, "csrf_token": _token(form),
                                       "next": next_path})


def test_login_mode_asks_for_a_key_once_then_the_cookie_is_the_keys_owner(server_env,
                                                                           server_app):
    from pixtools import apikeys

    app = _app(server_env, web_access=None)  # login is server mode's default
    client = app.test_client()
    with app.app_context():
        secret = apikeys.create("alice").secret
        key_id = apikeys.all_keys()[-1].id
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200
    # Cookie-only (no session) API calls are refused, so is a wrong key at the login.
    assert post(client).status_code == 401
    assert _sign_in(client, secret + "x").status_code == 401
    signed_in = _sign_in(client, secret, "/?from=login")
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/?from=login"
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    # The session is the key's owner: the API sees the page's job with the key alone.
    made = post(client, {"X-CSRF-Token": token})
    assert made.status_code == 202, made.get_json()
    job_url = f"/api/v1/jobs/{made.get_json()['id']}"
    assert app.test_client().get(job_url, headers=bearer(secret)).status_code == 200
    assert post(client).status_code == 403  # a session still needs the page's CSRF token
    # An open redirect is not offered: only paths on this site.
    assert _sign_in(app.test_client(), secret, "//evil.example/").headers["Location"] == "/"
    with app.app_context():
        apikeys.revoke(key_id)  # revoking the key ends its sessions at once
    assert client.get("/").status_code == 302
    assert app.extensions["test.drifts"] == []


def test_proxy_mode_trusts_the_user_header_only_from_the_proxy(server_env, server_app):
    app = _app(server_env, web_access="proxy", proxy_user_header="X-Auth-User")
    proxied = app.test_client()
    proxied.environ_base["HTTP_X_AUTH_USER"] = "alice"
    assert proxied.get("/").status_code == 200  # from 127.0.0.1, the configured proxy
    page = proxied.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    made = post(proxied, {"X-CSRF-Token": token})
    assert made.status_code == 202
    from pixtools.db import db
    from pixtools.models import Job

    with app.app_context():
        assert db.session.get(Job, made.get_json()["id"]).owner == "user:alice"
    # The same header from anywhere else is nobody's word: refused, page and API alike.
    forged = app.test_client()
    forged.environ_base.update(REMOTE_ADDR="10.9.8.7", HTTP_X_AUTH_USER="alice")
    assert forged.get("/").status_code == 401
    assert post(forged).status_code == 401
    assert app.test_client().get("/").status_code == 401  # no header at all
    assert app.extensions["test.drifts"] == []


def test_open_mode_in_server_mode_is_todays_behaviour(server_env, server_app):
    app = _app(server_env, web_access="open", api_keys_required=False)
    assert app.test_client().get("/").status_code == 200
    assert post(app.test_client()).status_code == 202  # anonymous, keys not required


def test_desktop_refuses_a_forged_host(app):
    from pixtools.desktop import own_hosts
    from pixtools.http import access

    client = app.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    refused = client.get("/api/v1/operations", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "does not answer" in refused.get_json()["message"]
    # Once `pixtools desktop` listens, only its own port is answered.
    access.allow_hosts(app, own_hosts("127.0.0.1", 8123))
    assert client.get("/", headers={"Host": "localhost:8123"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:8124"}).status_code == 400
    assert client.post("/api/v1/sandboxes", headers={"Host": "127.0.0.1:6379"}).status_code == 400


def test_bad_access_settings_are_named(server_env):
    from pixtools.config import ConfigError, load_settings

    for setting, value in (("web_access", "everyone"), ("proxy_user_header", "X User"),
                           ("proxy_networks", "10.0.0.1/8")):
        with pytest.raises(ConfigError, match=f"PIXTOOLS_{setting.upper()}"):
            load_settings({**settings_from_env(server_env), setting: value})


@pytest.fixture
def served(server_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A server-mode app served over HTTP on loopback (set its settings first)."""

    def serve(**settings: Any) -> tuple[str, Any]:
        request.getfixturevalue("server_app")
        app = _app(server_env, **settings)
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{port}", app

    servers: list[Any] = []
    yield serve
    for server in servers:
        server.shutdown()


def test_login_and_proxy_in_chromium(served, browser):
    from pixtools import apikeys

    base, app = served(web_access="login")
    with app.app_context():
        secret = apikeys.create("browser").secret
    page = browser.new_page()
    try:
        page.goto(f"{base}/")
        assert "/login" in page.url and page.locator("#api-key").is_visible()
        page.fill("#api-key", "pxt_wrong")
        page.click("button[type=submit]")
        assert "not accepted" in page.locator("#api-key-error").inner_text()
        page.fill("#api-key", secret)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.locator("#upload-form").is_visible()
    finally:
        page.close()

    base, _ = served(web_access="proxy")
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "carol"})
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        assert page.locator("#upload-form").is_visible()  # the proxy said who: no login
    finally:
        context.close()
    anonymous = browser.new_page()
    try:
        assert anonymous.goto(f"{base}/").status == 401
    finally:
        anonymous.close()
