"""The signed-cookie session: a request without the cookie gets an empty session at once;
one with it reads back what was signed, and a tampered cookie reads as empty."""

from __future__ import annotations

from flask import request

from pixtools.http.security import CookieSessions


def test_sessions_round_trip_and_refuse_tampering(app):
    sessions = app.session_interface
    assert isinstance(sessions, CookieSessions)
    with app.test_request_context("/"):
        empty = sessions.open_session(app, request)
        assert empty is not None and dict(empty) == {} and not empty.modified
        empty["owner"] = "browser:abc"
        response = app.response_class()
        sessions.save_session(app, empty, response)
    cookie = response.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("pixtools_session=")
    with app.test_request_context("/", headers={"Cookie": cookie}):
        assert dict(sessions.open_session(app, request)) == {"owner": "browser:abc"}
    tampered = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    with app.test_request_context("/", headers={"Cookie": tampered}):
        assert dict(sessions.open_session(app, request)) == {}


def test_without_a_secret_there_is_no_session(app):
    secret = app.secret_key
    app.secret_key = None
    try:
        with app.test_request_context("/"):
            assert app.session_interface.open_session(app, request) is None
    finally:
        app.secret_key = secret
