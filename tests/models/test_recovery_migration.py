"""The recovery migration adds leases, idempotency keys and dead letters, and comes back out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pixtools.db import engine_url


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_recovery_migration_upgrades_and_downgrades(database, tmp_path, request):
    from flask_migrate import downgrade

    from pixtools import create_app, db

    config = {"data_dir": tmp_path, "secret_key": "x"}
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(engine_url(url))
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        config["database_url"] = url
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'pixtools.db'}")
    app = create_app(config)

    def columns(table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}

    db.upgrade(app)
    assert {"attempts", "enqueued_at", "lease_expires_at"} <= columns("steps")
    assert {"idempotency_key", "request_hash"} <= columns("jobs")
    unique = {i["name"]: i["unique"] for i in sa.inspect(engine).get_indexes("jobs")}
    assert unique["uq_jobs_owner_idempotency_key"]
    assert "dead_letters" in sa.inspect(engine).get_table_names()

    with app.app_context():
        downgrade(directory=str(db.MIGRATIONS_DIR), revision="0001")
    assert "attempts" not in columns("steps")
    assert "idempotency_key" not in columns("jobs")
    assert "dead_letters" not in sa.inspect(engine).get_table_names()

    db.upgrade(app)  # and forward again
    assert "lease_expires_at" in columns("steps")
    with app.app_context():
        db.db.engine.dispose()
    engine.dispose()
