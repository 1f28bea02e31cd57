"""Engines and sessions: SQLite (WAL) in the data home by default, PostgreSQL by URL.

Use :class:`Store` everywhere: ``store = Store(settings.resolved_database_url)``, then
``store.upgrade()`` once at start-up and ``with store.session() as s: ...`` per unit of work.

Durability (SQLite): ``journal_mode=WAL`` with ``synchronous=FULL``. WAL alone already keeps
every committed transaction through a *process* crash (the WAL is in the OS page cache, and
the next opener replays it); ``NORMAL`` would too, but skips the fsync at commit, so a power
cut or kernel crash could drop the last acknowledged transactions. Feedback is acknowledged to
clients that will not re-send it, so we pay one WAL fsync per commit; :meth:`Store.write`
commits the votes that arrive together in one transaction, so a burst of votes shares its
fsyncs (see :mod:`assistant.store.group_commit`). ``eval/bench_crash.py`` and
``tests/store/test_crash_safety.py`` SIGKILL writers and check that nothing acknowledged is
lost or doubled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from assistant.store.group_commit import GroupCommitter

if TYPE_CHECKING:
    from assistant.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below): the sqlite3 driver's own transaction
        # handling breaks SAVEPOINT and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL fsyncs the WAL at every commit, so an acknowledged write survives a power cut
        # too, not only a process crash (see the module docstring).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
        # transaction that reads and then writes never fails with SQLITE_BUSY mid-way.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite file (folder created, WAL, durable) or PostgreSQL."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # One pooled connection per process for a file: every transaction takes SQLite's write
        # lock anyway (BEGIN IMMEDIATE, below), and threads queueing for the pool wake in turn,
        # where threads queueing for the lock poll it with growing sleeps (long tails under load).
        timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
        pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": timeout} if path else {}
        engine = create_engine(url, connect_args={"timeout": timeout}, **pool)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """The conversation-log database: one engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A SQLite file has one writer at a time and one pooled connection: group its small
        # writes. PostgreSQL commits concurrent transactions together itself, and its writes
        # to different rows do not queue for one connection.
        self._committer = GroupCommitter(self.session) if _sqlite_file(url) is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store named by ``settings.resolved_database_url``."""
        return cls(settings.resolved_database_url)

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (idempotent; safe from several processes)."""
        from assistant.store.migrate import upgrade_connection

        with self.engine.begin() as connection:
            upgrade_connection(connection, revision)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` as a small write unit and return its result once committed.

        Use it for frequent writes from many threads (feedback): on a SQLite file the writes
        waiting together share one transaction and one fsync (see
        :mod:`assistant.store.group_commit`), each in its own savepoint, so what ``work``
        raises rolls back only its own changes. Elsewhere it is ``with store.session() as s:
        return work(s)``.
        """
        if self._committer is not None:
            return self._committer.run(work)
        with self.session() as session:
            return work(session)

    async def write_async(self, work: Callable[[Session], T]) -> T:
        """:meth:`write` for async code: awaits the commit without holding a thread meanwhile.

        On a SQLite file the write joins the writer thread's next transaction; elsewhere
        :meth:`write` runs on a worker thread.
        """
        if self._committer is not None:
            return await asyncio.wrap_future(self._committer.submit(work))
        return await anyio.to_thread.run_sync(self.write, work)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"
