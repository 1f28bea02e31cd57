"""Once-only work across retries, threads and replicas: claim a key in the store first.

Slack delivers an event up to four times (``X-Slack-Retry-Num``) and several replicas may
receive them at once. :func:`claim` is an insert-or-ignore on the ``slack_events`` primary
key, so exactly one delivery gets ``True`` and does the work; :func:`release` gives the key
back when that work failed before anything was posted, so a later retry can do it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import delete, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from assistant.store import Store
from assistant.store.models import SlackEventRow, utcnow

KEEP = timedelta(days=7)  # Slack retries within minutes; older keys are pruned
PRUNE_EVERY_S = 3600.0
log = logging.getLogger(__name__)
_pruned = {"at": -float("inf")}
_prune_lock = threading.Lock()


def claim(store: Store, key: str) -> bool:
    """True for the one caller that takes ``key`` first; False for every later or racing one."""
    _maybe_prune(store)
    dialect = store.engine.dialect.name
    table = SlackEventRow.__table__
    values = {"event_id": key[:128], "received_at": utcnow()}
    if dialect == "postgresql":
        statement = pg_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - other backends: plain insert, a duplicate raises
        statement = insert(table).values(**values)
    with store.session() as session:  # a row comes back only when this INSERT took the key
        inserted = session.connection().execute(statement.returning(table.c.event_id)).first()
        return inserted is not None


def release(store: Store, key: str) -> None:
    """Forget ``key`` so a retried delivery may do the work."""
    with store.session() as session:
        session.execute(delete(SlackEventRow).where(SlackEventRow.event_id == key[:128]))


def prune(store: Store) -> int:
    """Drop keys older than :data:`KEEP`; returns how many went."""
    with store.session() as session:
        result = session.execute(delete(SlackEventRow).where(SlackEventRow.received_at < utcnow() - KEEP))
        return result.rowcount  # type: ignore[attr-defined]


def _maybe_prune(store: Store) -> None:
    with _prune_lock:
        if time.monotonic() - _pruned["at"] < PRUNE_EVERY_S:
            return
        _pruned["at"] = time.monotonic()
    try:
        prune(store)
    except Exception:  # housekeeping never costs an answer
        log.exception("could not prune old Slack event keys")
