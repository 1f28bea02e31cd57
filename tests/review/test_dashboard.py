"""Dashboard numbers per day and per release, on hand-computed data, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from assistant import store
from assistant.review.dashboard import columns, dashboard_csv, dashboard_rows

UTC = timezone.utc
SINCE = datetime(2025, 3, 10, tzinfo=UTC)
UNTIL = datetime(2025, 3, 12, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[store.Store]:
    instance = store.Store(db_url)
    instance.upgrade()
    yield instance
    instance.close()


def add(session: Session, created_at: datetime, release: str = "r1", **fields) -> str:
    store.get_or_create_conversation(session, conversation_id="conv", channel="api", user_id="u1")
    return store.record_interaction(
        session,
        conversation_id="conv",
        question="How do I get a refund?",
        answer="Within 5 days [1].",
        release_id=release,
        model_id="m",
        index_id="i",
        created_at=created_at,
        **fields,
    )


def vote(session: Session, interaction_id: str, *events: dict) -> None:
    for number, fields in enumerate(events):
        store.record_feedback(session, interaction_id=interaction_id, voter=f"v{number}", **fields)


@pytest.fixture
def log(db: store.Store) -> store.Store:
    """Seven interactions in the window (two days, two releases) and two just outside it."""
    day1, day2 = SINCE, SINCE + timedelta(days=1)
    with db.session() as s:
        a = add(s, day1, latency_ms={"total": 100, "generate": 80})  # exactly at `since`: inside
        vote(s, a, {"rating": "up"}, {"rating": "down"}, {"resolution": "resolved"})
        b = add(s, day1 + timedelta(hours=2), latency_ms={"retrieve": 5})  # no total: no latency
        vote(
            s, b, {"rating": "down"}, {"resolution": "escalated"}, {"rating": "up", "resolution": "resolved"}
        )
        add(s, day1 + timedelta(hours=3), abstained=True)
        d = add(
            s,
            datetime(2025, 3, 11, 1, tzinfo=timezone(timedelta(hours=2))),  # 23:00 UTC on day 1
            curated_answer_id="ca-1",
            latency_ms={"total": 300},
        )
        vote(s, d, {"rating": "up", "resolution": "resolved"}, {"resolution": "unresolved"})
        e = add(s, day2 + timedelta(hours=1), release="r2", latency_ms={"total": 200})
        vote(s, e, {"resolution": "escalated"})
        f = add(
            s, day2 + timedelta(hours=2), release="r2", curated_answer_id="ca-1", latency_ms={"total": 400}
        )
        vote(s, f, {"rating": "up"})
        g = add(s, day2 + timedelta(hours=3), latency_ms={"total": 500})
        vote(s, g, {"rating": "down"})
        for outside in (SINCE - timedelta(microseconds=1), UNTIL):
            x = add(s, outside, release="r0", abstained=True, latency_ms={"total": 9000})
            vote(s, x, {"rating": "down", "resolution": "escalated"})
    return db


def test_per_day(log: store.Store) -> None:
    with log.session() as s:
        rows = dashboard_rows(s, by="day", since=SINCE, until=UNTIL)
    assert rows == [
        {
            "day": "2025-03-10",
            "questions": 4,
            "thumbs_up_rate": 0.5,  # b (down, then up) and d; a ended down
            "thumbs_down_rate": 0.25,
            "resolution_rate": 0.5,  # a and b; d's latest resolution is unresolved
            "escalation_rate": 0.25,  # b, though resolved afterwards
            "abstention_rate": 0.25,
            "curated_rate": 0.25,
            "latency_p50_ms": 200,  # of 100 and 300 (b and c have no total)
            "latency_p95_ms": 290,
        },
        {
            "day": "2025-03-11",
            "questions": 3,
            "thumbs_up_rate": 0.3333,
            "thumbs_down_rate": 0.3333,
            "resolution_rate": 0.0,
            "escalation_rate": 0.3333,
            "abstention_rate": 0.0,
            "curated_rate": 0.3333,
            "latency_p50_ms": 400,  # of 200, 400, 500
            "latency_p95_ms": 490,
        },
    ]
    assert list(rows[0]) == list(columns("day"))


def test_per_release_in_order_of_first_interaction(log: store.Store) -> None:
    with log.session() as s:
        rows = dashboard_rows(s, by="release", since=SINCE, until=UNTIL)
    assert [(r["release"], r["questions"]) for r in rows] == [("r1", 5), ("r2", 2)]
    r1, r2 = rows
    assert (r1["thumbs_up_rate"], r1["thumbs_down_rate"], r1["resolution_rate"]) == (0.4, 0.4, 0.4)
    assert (r1["escalation_rate"], r1["abstention_rate"], r1["curated_rate"]) == (0.2, 0.2, 0.2)
    assert (r1["latency_p50_ms"], r1["latency_p95_ms"]) == (300, 480)
    assert r2 == {
        "release": "r2",
        "questions": 2,
        "thumbs_up_rate": 0.5,
        "thumbs_down_rate": 0.0,
        "resolution_rate": 0.0,
        "escalation_rate": 0.5,
        "abstention_rate": 0.0,
        "curated_rate": 0.5,
        "latency_p50_ms": 300,
        "latency_p95_ms": 390,
    }


def test_two_queries_whatever_the_number_of_interactions(log: store.Store) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(log.engine, "before_cursor_execute", count)
    try:
        with log.session() as s:
            dashboard_rows(s, by="release", since=SINCE, until=UNTIL)
    finally:
        event.remove(log.engine, "before_cursor_execute", count)
    assert len(statements) == 2


def test_narrow_and_empty_windows(log: store.Store) -> None:
    with log.session() as s:
        day2 = dashboard_rows(s, by="day", since=SINCE + timedelta(days=1), until=UNTIL)
        assert [r["day"] for r in day2] == ["2025-03-11"]
        assert (
            dashboard_rows(s, by="day", since=UNTIL + timedelta(days=1), until=UNTIL + timedelta(days=2))
            == []
        )


def test_default_window_is_the_last_30_days(db: store.Store) -> None:
    now = store.utcnow()
    with db.session() as s:
        add(s, now - timedelta(days=1), release="recent")
        add(s, now - timedelta(days=31), release="old")
    with db.session() as s:
        assert [r["release"] for r in dashboard_rows(s, by="release")] == ["recent"]
        until = now - timedelta(days=20)
        assert [r["release"] for r in dashboard_rows(s, by="release", until=until)] == ["old"]


def test_a_group_without_feedback_or_latency(db: store.Store) -> None:
    with db.session() as s:
        add(s, SINCE)
        [row] = dashboard_rows(s, by="day", since=SINCE, until=UNTIL)
    assert row["questions"] == 1 and row["thumbs_up_rate"] == 0.0
    assert row["latency_p50_ms"] is None and row["latency_p95_ms"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "week"}, "by must be one of day, release"),
        ({"by": "day", "since": UNTIL, "until": UNTIL}, "must be before until"),
        ({"by": "day", "since": UNTIL, "until": SINCE}, "must be before until"),
        ({"by": "day", "since": datetime(2025, 3, 10)}, "timezone-aware"),
    ],
)
def test_bad_input_is_a_clear_error(db: store.Store, kwargs: dict, message: str) -> None:
    with db.session() as s, pytest.raises(ValueError, match=message):
        dashboard_rows(s, **kwargs)


def test_csv_has_a_header_and_one_line_per_row(log: store.Store) -> None:
    with log.session() as s:
        rows = dashboard_rows(s, by="release", since=SINCE, until=UNTIL)
    parsed = list(csv.reader(io.StringIO(dashboard_csv(rows))))
    assert parsed[0] == list(columns("release"))
    assert parsed[2] == ["r2", "2", "0.5", "0.0", "0.0", "0.5", "0.0", "0.5", "300", "390"]
    assert dashboard_csv([], by="release").splitlines() == [",".join(columns("release"))]
    none_latency = {**rows[0], "latency_p50_ms": None}
    assert list(csv.reader(io.StringIO(dashboard_csv([none_latency]))))[1][8] == ""
