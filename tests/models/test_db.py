"""The connection pool survives connections cut while idle (a database restart, say)."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pixtools import db as database
from pixtools.db import db


def _cut_every_other_connection(url: str) -> int:
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        (count,) = cursor.fetchone()
    admin.close()
    return int(count)


def _query_after_a_cut(server_app, postgres_url: str) -> int:
    assert db.session.execute(text("SELECT 1")).scalar() == 1
    db.session.remove()  # back to the pool, idle
    assert _cut_every_other_connection(postgres_url) >= 1
    try:
        return int(db.session.execute(text("SELECT 2")).scalar())
    finally:
        db.session.remove()


def test_an_idle_connection_cut_meanwhile_is_replaced_unseen(server_app, postgres_url,
                                                             monkeypatch):
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _query_after_a_cut(server_app, postgres_url) == 2


def test_a_connection_in_steady_use_is_not_pinged(server_app, postgres_url, monkeypatch):
    # The counterpart: without the idle ping the cut connection reaches the caller, which is
    # what the ping above prevents (and what steady traffic saves a round trip on).
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    with pytest.raises(OperationalError):
        _query_after_a_cut(server_app, postgres_url)
