"""Migrations apply cleanly on empty PostgreSQL and SQLite databases."""

from __future__ import annotations

import sqlalchemy as sa

from pixtools.db import engine_url

EXPECTED_TABLES = {"jobs", "outputs", "steps", "presets", "alembic_version"}


def test_upgrade_on_empty_sqlite(tmp_path):
    from pixtools import create_app, db

    app = create_app({"data_dir": tmp_path, "secret_key": "x"})
    db.upgrade(app)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pixtools.db'}")
    assert set(sa.inspect(engine).get_table_names()) >= EXPECTED_TABLES
    db.upgrade(app)  # running it again is harmless


def test_upgrade_on_empty_postgres(postgres_url, tmp_path):
    from pixtools import create_app, db

    engine = sa.create_engine(engine_url(postgres_url))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    app = create_app({"data_dir": tmp_path, "database_url": postgres_url, "secret_key": "x"})
    db.upgrade(app)
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) >= EXPECTED_TABLES
    columns = {c["name"]: c for c in inspector.get_columns("jobs")}
    assert isinstance(columns["expires_at"]["type"], sa.DateTime)
    assert columns["expires_at"]["type"].timezone is True
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()


def test_catalogue_migration_adds_and_removes_job_options(tmp_path):
    from flask_migrate import downgrade

    from pixtools import create_app, db

    app = create_app({"data_dir": tmp_path, "secret_key": "x"})
    db.upgrade(app)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pixtools.db'}")
    assert "options" in {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    with app.app_context():
        # One step before this revision, wherever it ends up in the chain.
        downgrade(directory=str(db.MIGRATIONS_DIR), revision="0002_catalogue-1")
    assert "options" not in {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    db.upgrade(app)
    assert "options" in {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    engine.dispose()
