"""The database handle and migrations, bound to the app in ``init_app``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_migrate import upgrade as migrate_upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# Inside the package (package data), so an installed wheel or image migrates its database.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A pooled connection idle this long is tested before use (see ``_ping_when_idle``).
PING_AFTER_IDLE_SECONDS = 10.0


class Base(DeclarativeBase):
    pass


# Rows stay loaded across commits: reading every attribute back after each commit was most
# of a submission's round trips. Where another transaction may have changed a row, it is
# read afresh explicitly (``jobs.get_for_owner``; ``jobs.finalise`` decides in one UPDATE).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite is shared by the web server and the in-process consumers: WAL lets readers
    # proceed while a step writes, and busy_timeout waits for a lock instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def engine_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2, the driver PixTools ships with."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url.removeprefix(scheme)
    return url


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip for every
    request and task. A connection in steady use has just proved itself; one left idle is
    the one a database restart or an idle timeout has most likely cut, and a failed ping
    makes the pool replace it before the caller sees anything.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:
            raise DisconnectionError("idle connection was closed") from exc


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    url = engine_url(settings.effective_database_url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    with app.app_context():
        _ping_when_idle(db.engine)


def upgrade(app: Flask) -> None:
    """Apply all migrations (what ``flask db upgrade`` does), for desktop start-up."""
    with app.app_context():
        migrate_upgrade(directory=str(MIGRATIONS_DIR))
