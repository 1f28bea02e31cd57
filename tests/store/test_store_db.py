"""Migrations, engine settings and session behaviour on both backends."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from assistant import store
from assistant.store.migrate import alembic_config

TABLES = {
    "alembic_version",
    "admin_sessions",
    "documents",
    "conversations",
    "interactions",
    "feedback_events",
    "flags",
    "curated_answers",
    "review_actions",
    "admin_users",
    "api_tokens",
    "slack_events",
    "training_runs",
    "run_locks",
    "erased_users",
}


def table_names(db: store.Store) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_upgrade_creates_all_tables(db: store.Store) -> None:
    assert table_names(db) == TABLES
    with db.engine.connect() as connection:
        assert store.current_revision(connection) == "0008"


def test_upgrade_is_idempotent_and_keeps_data(db: store.Store, db_url: str) -> None:
    with db.session() as session:
        store.upsert_document(
            session,
            doc_id="a.md",
            title="A",
            source="a.md",
            origin="/kb/a.md",
            content_hash="h",
            chunk_count=1,
        )
    db.upgrade()
    again = store.Store(db_url)  # another process starting on the same database
    again.upgrade()
    again.close()
    assert table_names(db) == TABLES
    with db.session() as session:
        assert [row.doc_id for row in store.list_documents(session)] == ["a.md"]


def test_upgrade_by_url_on_empty_database(db_url: str) -> None:
    db = store.Store(db_url)
    try:
        db.upgrade()
        assert table_names(db) == TABLES
    finally:
        db.close()


def test_migrations_match_models(db: store.Store) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), store.Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade(db: store.Store) -> None:
    from alembic import command

    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert table_names(db) == {"alembic_version"}
    db.upgrade()
    assert table_names(db) == TABLES


def test_sqlite_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "assistant.db"
    db = store.Store(f"sqlite:///{path}")
    try:
        with db.engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "busy_timeout": 10_000, "synchronous": 2, "foreign_keys": 1}
        assert path.exists()
    finally:
        db.close()


def test_session_commits_on_success_and_rolls_back_on_error(db: store.Store) -> None:
    def add(session, doc_id: str) -> None:
        store.upsert_document(
            session,
            doc_id=doc_id,
            title=doc_id,
            source=doc_id,
            origin=f"/kb/{doc_id}",
            content_hash="h",
            chunk_count=1,
        )

    with db.session() as session:
        add(session, "kept.md")
    with pytest.raises(RuntimeError), db.session() as session:
        add(session, "lost.md")
        raise RuntimeError("boom")
    with db.session() as session:
        assert [row.doc_id for row in store.list_documents(session)] == ["kept.md"]


def test_foreign_keys_are_enforced(db: store.Store) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            store.FeedbackRow(
                idempotency_key="k", interaction_id="missing", rating="up", created_at=store.utcnow()
            )
        )
        session.flush()


def test_check_constraints_reject_bad_feedback(db: store.Store, interaction_id: str) -> None:
    from sqlalchemy.exc import IntegrityError

    for values in ({"rating": "meh"}, {"resolution": "maybe"}, {}):
        with pytest.raises(IntegrityError), db.session() as session:
            session.add(
                store.FeedbackRow(
                    idempotency_key="k", interaction_id=interaction_id, created_at=store.utcnow(), **values
                )
            )
            session.flush()


def test_timestamps_are_timezone_aware_utc(db: store.Store, interaction_id: str) -> None:
    with db.session() as session:
        created = session.scalar(select(store.InteractionRow.created_at))
        raw = session.execute(text("SELECT created_at FROM interactions")).scalar()
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 600
    assert raw is not None


def test_naive_timestamps_are_refused(db: store.Store) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="timezone-aware"), db.session() as session:
        store.get_or_create_conversation(session, conversation_id="c", channel="api", user_id=None)
        store.record_interaction(
            session,
            conversation_id="c",
            question="q",
            answer="a",
            release_id="r",
            model_id="m",
            index_id="i",
            created_at=datetime(2024, 1, 1),
        )
