"""Web security: CSRF on cookie requests, protective headers, safe download names."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

from tests.support.browser import browser, csrf_token
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self'; "
          "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
          "base-uri 'self'; form-action 'self'; object-src 'none'")


def post(client, headers=None, name="a.jpg", **fields):
    form = {"file": (io.BytesIO(make_image((16, 16))), name), "recipe": RECIPE, **fields}
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data",
                       headers=headers or {})


def test_cookie_post_without_token_is_refused_with_json_403(app):
    page, _ = browser(app)
    response = post(page)
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "csrf_failed"
    assert body["message"].startswith("The CSRF token is missing.")
    assert "X-CSRF-Token" in body["message"]
    wrong = post(page, {"X-CSRF-Token": "not-a-token"})
    assert wrong.status_code == 403 and "invalid" in wrong.get_json()["message"]


def test_cookie_post_with_token_in_header_or_form_is_accepted(app):
    page, headers = browser(app)
    assert post(page, headers).status_code == 202
    assert post(page, csrf_token=headers["X-CSRF-Token"]).status_code == 202


def test_token_of_another_browser_is_refused(app):
    (alice, _), (_, bob_headers) = browser(app), browser(app)
    response = post(alice, bob_headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "csrf_failed"


def test_cookie_delete_needs_the_token_too(app):
    page, headers = browser(app)
    job_url = f"/api/v1/jobs/{post(page, headers).get_json()['id']}"
    refused = page.delete(job_url)
    assert refused.status_code == 403 and refused.get_json()["error"] == "csrf_failed"
    assert page.get(job_url).status_code == 200  # reads need no token
    assert page.delete(job_url, headers=headers).status_code == 204


def test_requests_without_the_cookie_or_with_an_api_key_are_not_checked(app, client):
    from pixtools import apikeys

    assert post(client).status_code == 202  # no cookie: nothing to forge
    page, _ = browser(app)
    secret = apikeys.create("script").secret
    # A key proves the caller itself; the cookie riding along adds no authority.
    assert post(page, {"Authorization": f"Bearer {secret}"}).status_code == 202


def test_security_headers_on_html_json_errors_and_downloads(app, client):
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks.pipeline import run_steps

    job_id = post(client).get_json()["id"]
    run_steps(db.session.get(Job, job_id).outputs[0].steps[0].id)
    db.session.expire_all()
    url = client.get(f"/api/v1/jobs/{job_id}").get_json()["outputs"][0]["url"]
    responses = {
        "page": client.get("/"),
        "json": client.get("/api/v1/operations"),
        "json error": client.get("/api/v1/jobs/nope"),
        "html error": client.get("/nowhere"),
        "download": client.get(url),
    }
    assert responses["page"].mimetype == "text/html"
    for what, response in responses.items():
        headers = response.headers
        assert headers["Content-Security-Policy"] == POLICY, what
        assert headers["X-Content-Type-Options"] == "nosniff", what
        assert headers["X-Frame-Options"] == "DENY", what
        assert headers["Referrer-Policy"] == "same-origin", what
    assert "<script>" not in responses["page"].get_data(as_text=True)  # no inline script


def test_policy_allows_images_from_the_object_store(server_env, server_app):
    from pixtools.http.security import storage_origin

    endpoint = server_env["PIXTOOLS_S3_ENDPOINT_URL"]
    assert storage_origin(server_app) == endpoint
    policy = server_app.test_client().get("/api/health").headers["Content-Security-Policy"]
    assert f"img-src 'self' data: blob: {endpoint};" in policy


def upload_named(client, name: str):
    """Upload with ``name`` sent as RFC 5987 ``filename*`` (percent-encoded), so quotes, CR,
    LF and any other character reach the app intact, as a hostile client can send them."""
    boundary = "b0undary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename*=UTF-8''{quote(name, safe='')}\r\n\r\n").encode()
    body = (part + make_image((16, 16)) + f"\r\n--{boundary}\r\nContent-Disposition: "
            f'form-data; name="recipe"\r\n\r\n{RECIPE}\r\n--{boundary}--\r\n'.encode())
    return client.post("/api/v1/jobs", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_hostile_file_names_are_sanitised(app, client):
    from pixtools.db import db
    from pixtools.models import Job
    from pixtools.tasks.pipeline import run_steps

    hostile = {
        'evil"; filename="x.html': ('evil"; filename="x.html', "evil_filename_x-1.png"),
        "..\\..\\windows\\cmd.jpg": ("cmd.jpg", "cmd-1.png"),
        "../../etc/passwd": ("passwd", "passwd-1.png"),
        "crème brûlée 写真.jpg": ("crème brûlée 写真.jpg", "creme_brulee-1.png"),
        "\u202egnp.exe\x00.jpg": ("gnp.exe.jpg", "gnp_exe-1.png"),
        "résumé\r\nSet-Cookie: a=b.jpg": ("résuméSet-Cookie: a=b.jpg",
                                           "resumeSet-Cookie_a_b-1.png"),
        "写真.jpg": ("写真.jpg", "image-1.png"),
        "x" * 300 + ".jpg": ("x" * 200, "x" * 80 + "-1.png"),
    }
    for name, (kept, download) in hostile.items():
        created = upload_named(client, name).get_json()
        assert "source" in created, (name, created)
        assert created["source"]["name"] == kept, name
        run_steps(db.session.get(Job, created["id"]).outputs[0].steps[0].id)
        db.session.expire_all()
        output = client.get(f"/api/v1/jobs/{created['id']}").get_json()["outputs"][0]
        reply = client.get(output["url"])
        assert reply.status_code == 200, name
        assert reply.headers["Content-Disposition"] == f"attachment; filename={download}", name
        assert reply.mimetype == "image/png"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_only_page_loads_hand_out_an_owner_cookie(client):
    # A cross-site form arrives without the (SameSite) cookie: it must not replace it.
    client.post("/", data={"x": "1"})
    assert client.get_cookie("pixtools_owner") is None
    client.get("/")
    assert client.get_cookie("pixtools_owner") is not None


def test_page_carries_the_token_for_scripts(app, client):
    token = csrf_token(client)
    assert len(token) > 20
    session = client.get_cookie("pixtools_session")
    assert session.http_only and session.same_site == "Lax" and not session.secure


def test_session_cookie_is_secure_behind_https(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "public_url": "https://images.example.com/"})
    db.upgrade(app)
    client = app.test_client()
    csrf_token(client)
    assert client.get_cookie("pixtools_session", domain="localhost").secure


def test_proxy_hops_setting_trusts_forwarded_client_addresses(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "proxy_hops": 1, "submit_rate_limit": "1/minute"})
    db.upgrade(app)
    client = app.test_client()
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert post(client, first).status_code == 202
    assert post(client, first).status_code == 429
    # Another client behind the same proxy has its own allowance.
    assert post(client, {"X-Forwarded-For": "203.0.113.8"}).status_code == 202


def test_without_proxy_hops_forwarded_addresses_are_ignored(desktop_config):
    from pixtools import create_app, db

    app = create_app({**desktop_config, "submit_rate_limit": "1/minute"})
    db.upgrade(app)
    client = app.test_client()
    assert post(client, {"X-Forwarded-For": "203.0.113.7"}).status_code == 202
    # Spoofing the header does not buy another allowance.
    assert post(client, {"X-Forwarded-For": "203.0.113.9"}).status_code == 429
