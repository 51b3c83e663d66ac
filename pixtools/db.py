"""The database handle and migrations, bound to the app in ``init_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_migrate import upgrade as migrate_upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    pass


# Rows stay loaded across commits: reading every attribute back after each commit was most
# of a submission's round trips. Where another transaction may have changed a row, it is
# read afresh explicitly (``jobs.get_for_owner``, the job lock in ``jobs.finalise``).
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


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    url = engine_url(settings.effective_database_url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))


def upgrade(app: Flask) -> None:
    """Apply all migrations (what ``flask db upgrade`` does), for desktop start-up."""
    with app.app_context():
        migrate_upgrade(directory=str(MIGRATIONS_DIR))
