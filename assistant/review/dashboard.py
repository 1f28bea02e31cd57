"""The support-lead dashboard's numbers: per UTC day or per release, over a time window.

Use :func:`dashboard_rows` for the table (and the charts in :mod:`assistant.admin.charts`) and
:func:`dashboard_csv` to hand it to a spreadsheet. Each row covers the interactions created in
``[since, until)`` of one group and has these keys, in this order:

- ``day`` (ISO date, UTC) or ``release`` (release id): the group. Days come in ascending
  order, releases in the order of their first interaction; a group without questions has no row.
- ``questions``: how many interactions the group has.
- ``thumbs_up_rate`` / ``thumbs_down_rate``: share rated 👍 / 👎 by their *latest* rating event
  (feedback is append-only, so a customer who changes their mind counts once, as they ended).
- ``resolution_rate``: share whose latest resolution event is ``resolved``.
- ``escalation_rate``: share with *any* ``escalated`` event (a hand-off happened, whatever came after).
- ``abstention_rate``: share the assistant declined to answer (``abstained``).
- ``curated_rate``: share served a curated answer (``curated_answer_id`` set).
- ``latency_p50_ms`` / ``latency_p95_ms``: percentiles (linear interpolation) of the end-to-end
  ``latency_ms["total"]``, rounded to the millisecond; rows without it are left out, and both
  are ``None`` when no row has it.

Rates are shares of the group's questions, from 0 to 1, rounded to 4 places (0.0 when there
are no questions). Events are ordered by ``created_at``, then ``id``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.store.models import FeedbackRow, InteractionRow, utcnow

Grouping = Literal["day", "release"]
GROUPINGS: tuple[str, ...] = get_args(Grouping)
DEFAULT_WINDOW = timedelta(days=30)
RATE_KEYS = (
    "thumbs_up_rate",
    "thumbs_down_rate",
    "resolution_rate",
    "escalation_rate",
    "abstention_rate",
    "curated_rate",
)
METRIC_KEYS = ("questions", *RATE_KEYS, "latency_p50_ms", "latency_p95_ms")


def columns(by: Grouping) -> tuple[str, ...]:
    """The keys of a row grouped ``by`` day or release, in table and CSV order."""
    return (by, *METRIC_KEYS)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    until = until if until is not None else utcnow()
    since = since if since is not None else until - DEFAULT_WINDOW
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    return since, until


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _percentiles(values: list[float]) -> tuple[int | None, int | None]:
    if not values:
        return None, None
    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95], method="linear")
    return round(float(p50)), round(float(p95))


def _total_latency(latency: Mapping[str, Any] | None) -> float | None:
    value = latency.get("total") if isinstance(latency, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def dashboard_rows(
    session: Session,
    *,
    by: Grouping,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per UTC day or per release over interactions created in ``[since, until)``.

    ``until`` defaults to now and ``since`` to 30 days before ``until``; both must be
    timezone-aware. Raises ``ValueError`` for an unknown ``by`` or an empty window. Two
    queries in all: the window's interactions, then their feedback events.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    since, until = _window(since, until)
    in_window = (InteractionRow.created_at >= since) & (InteractionRow.created_at < until)

    interactions = session.execute(
        select(
            InteractionRow.id,
            InteractionRow.created_at,
            InteractionRow.release_id,
            InteractionRow.abstained,
            InteractionRow.curated_answer_id,
            InteractionRow.latency_ms,
        )
        .where(in_window)
        .order_by(InteractionRow.created_at, InteractionRow.id)
    ).all()
    rating: dict[str, str] = {}
    resolution: dict[str, str] = {}
    escalated: set[str] = set()
    events = session.execute(
        select(FeedbackRow.interaction_id, FeedbackRow.rating, FeedbackRow.resolution)
        .join(InteractionRow, InteractionRow.id == FeedbackRow.interaction_id)
        .where(in_window)
        .order_by(FeedbackRow.created_at, FeedbackRow.id)
    )
    for interaction_id, event_rating, event_resolution in events:
        if event_rating is not None:
            rating[interaction_id] = event_rating
        if event_resolution is not None:
            resolution[interaction_id] = event_resolution
            if event_resolution == "escalated":
                escalated.add(interaction_id)

    groups: dict[str, list[Any]] = {}
    for row in interactions:
        key = row.created_at.date().isoformat() if by == "day" else row.release_id
        groups.setdefault(key, []).append(row)
    return [_row(by, key, members, rating, resolution, escalated) for key, members in groups.items()]


def _row(
    by: str,
    key: str,
    members: list[Any],
    rating: Mapping[str, str],
    resolution: Mapping[str, str],
    escalated: set[str],
) -> dict[str, Any]:
    total = len(members)
    ids = [member.id for member in members]
    latencies = [value for m in members if (value := _total_latency(m.latency_ms)) is not None]
    p50, p95 = _percentiles(latencies)
    return {
        by: key,
        "questions": total,
        "thumbs_up_rate": _share(sum(rating.get(i) == "up" for i in ids), total),
        "thumbs_down_rate": _share(sum(rating.get(i) == "down" for i in ids), total),
        "resolution_rate": _share(sum(resolution.get(i) == "resolved" for i in ids), total),
        "escalation_rate": _share(sum(i in escalated for i in ids), total),
        "abstention_rate": _share(sum(bool(m.abstained) for m in members), total),
        "curated_rate": _share(sum(m.curated_answer_id is not None for m in members), total),
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
    }


def dashboard_csv(rows: Iterable[Mapping[str, Any]], *, by: Grouping | None = None) -> str:
    """Rows of :func:`dashboard_rows` as CSV with a header row (empty cells for missing latency).

    The first column is ``day`` or ``release``, read off the first row; pass ``by`` to get the
    right header when ``rows`` is empty (default ``day``).
    """
    rows = list(rows)
    if by is None:
        by = "release" if rows and "release" in rows[0] else "day"
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(by), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
