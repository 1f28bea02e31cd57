"""Kill-and-restart cycles against the feedback log: nothing acknowledged may be lost or doubled.

Each cycle starts writer processes (:mod:`eval.crash_writer`), some re-sending keys acknowledged
in earlier cycles, lets them write, then SIGKILLs them at random moments (and, for PostgreSQL,
crashes the server with an immediate shutdown in between), restarts, and checks: every
acknowledged key stored exactly once, no re-sent key stored anew, every thumbs-down event
flagged (feedback and flag commit together), and the database's own integrity check clean.

:class:`PrivatePostgres` runs a throwaway cluster (``initdb`` in a temporary folder, a free
port, the ``postgres`` OS user when running as root) so its server may be crashed at will.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import text

from assistant import store as log

ROOT = Path(__file__).resolve().parent.parent
INTERACTIONS = 8
RESEND_PER_WRITER = 4
READY_TIMEOUT_S = 120.0


@dataclass
class CrashReport:
    """What a run of kill cycles found; ``clean`` when nothing was lost, doubled or damaged."""

    backend: str
    cycles: int = 0
    writers: int = 0
    acknowledged: int = 0
    resent: int = 0
    resent_recreated: int = 0  # an acknowledged key that was missing when sent again: a loss
    lost: int = 0
    duplicated: int = 0
    unflagged: int = 0  # thumbs-down events whose interaction has no thumbs_down flag
    server_crashes: int = 0
    integrity: str = "not checked"
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.resent_recreated or self.unflagged) and (
            self.integrity == "ok"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "clean": self.clean}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temporary folder, to crash and restart at will."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError(postgres_unavailable() or "initdb not found")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.data = self.folder / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the postgres account
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        command = [*self._as_user, str(Path(self.bin) / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log_file = self.folder / "server.log"
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}\n{tail}")

    def start(self) -> None:
        """Start (after a crash: recover) and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
                  "-w", "-t", "120", "start")  # fmt: skip

    def crash(self) -> None:
        """Immediate shutdown: no checkpoint, the next start replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def postgres_bin() -> str | None:
    """The folder of the newest ``initdb``/``pg_ctl`` here, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb and shutil.which("pg_ctl") else None


def postgres_unavailable() -> str | None:
    """Why a private PostgreSQL cluster cannot run here, or None when it can."""
    if postgres_bin() is None:
        return "initdb/pg_ctl not found (looked in /usr/lib/postgresql/*/bin and PATH)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres OS user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def prepare(url: str) -> None:
    """Migrate an empty store and log the interactions the writers vote on."""
    db = log.Store(url)
    try:
        db.upgrade()
        with db.session() as session:
            log.get_or_create_conversation(session, conversation_id="crash", channel="api", user_id="u")
            for number in range(INTERACTIONS):
                log.record_interaction(
                    session,
                    conversation_id="crash",
                    question=f"question {number}",
                    answer="answer [1]",
                    release_id="r",
                    model_id="m",
                    index_id="i",
                    confidence=0.9,
                )
    finally:
        db.close()


class Writer:
    """One writer process and the lines it printed (read by a thread, so pipes never fill)."""

    def __init__(self, url: str, resend: list[str], folder: Path, number: int) -> None:
        resend_file = folder / f"resend-{number}.json"
        resend_file.write_text(json.dumps(resend))
        self.stderr = (folder / f"writer-{number}.err").open("w+")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eval.crash_writer", url, "--resend", str(resend_file)],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.endswith("\n"):
                break  # cut short by the kill: not acknowledged
            self.lines.append(line.strip())
            if line == "ready\n":
                self.ready.set()
        self.ready.set()

    def wait_ready(self) -> None:
        if not self.ready.wait(READY_TIMEOUT_S) or self.process.poll() is not None:
            self.stderr.seek(0)
            error = self.stderr.read()[-2000:]
            self.kill()
            raise RuntimeError(f"crash writer did not start: {error}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._reader.join(timeout=30)
        if not self.stderr.closed:
            self.stderr.close()


def check(url: str, acknowledged: set[str], report: CrashReport) -> None:
    """Count lost and doubled keys, thumbs-down events without a flag, and run the integrity check."""
    db = log.Store(url)
    try:
        with db.engine.connect() as connection:
            counts = dict(
                connection.execute(
                    text("SELECT idempotency_key, COUNT(*) FROM feedback_events GROUP BY idempotency_key")
                ).all()
            )
            down = set(
                connection.execute(
                    text("SELECT DISTINCT interaction_id FROM feedback_events WHERE rating = 'down'")
                ).scalars()
            )
            flagged = {
                interaction_id
                for interaction_id, reasons in connection.execute(
                    text("SELECT interaction_id, reasons FROM flags")
                )
                if "thumbs_down" in (json.loads(reasons) if isinstance(reasons, str) else reasons)
            }
            integrity = integrity_check(connection)
    finally:
        db.close()
    report.lost = sum(1 for key in acknowledged if key not in counts)
    report.duplicated = sum(count - 1 for count in counts.values())
    report.unflagged = len(down - flagged)
    if integrity != "ok":
        report.problems.append(integrity)
    if report.integrity in ("ok", "not checked"):
        report.integrity = integrity


def integrity_check(connection) -> str:
    """SQLite ``integrity_check`` + ``foreign_key_check``; PostgreSQL ``amcheck`` on heap and indexes."""
    if connection.dialect.name == "sqlite":
        result = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check").all()]
        orphans = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if result != ["ok"]:
            return "integrity_check: " + "; ".join(result)
        return f"foreign_key_check: {len(orphans)} orphaned rows" if orphans else "ok"
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    indexes = connection.execute(
        text(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE a.amname = 'btree' AND n.nspname = current_schema()"
        )
    ).all()
    for oid, _name in indexes:
        connection.execute(text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
    has_heapam = connection.execute(text("SELECT to_regproc('verify_heapam') IS NOT NULL")).scalar()
    for table in ("feedback_events", "flags", "interactions") if has_heapam else ():  # amcheck >= 1.3
        damaged = connection.execute(text(f"SELECT COUNT(*) FROM verify_heapam('{table}')")).scalar()
        if damaged:
            return f"verify_heapam: {damaged} problems in {table}"
    connection.commit()
    return "ok"


def run_cycles(
    url: str,
    cycles: int,
    *,
    writers: int = 3,
    seed: int = 0,
    crash_server: Callable[[], None] | None = None,
    restart_server: Callable[[], None] | None = None,
    backend: str = "sqlite",
) -> CrashReport:
    """Run ``cycles`` kill cycles against the prepared store at ``url``; check after each restart."""
    rng = random.Random(seed)
    report = CrashReport(backend=backend, writers=writers)
    acknowledged: set[str] = set()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crash-cycles-") as work:
        for cycle in range(cycles):
            known = sorted(acknowledged)
            running = [
                Writer(url, rng.sample(known, min(RESEND_PER_WRITER, len(known))), Path(work), number)
                for number in range(writers)
            ]
            try:
                for writer in running:
                    writer.wait_ready()
            except RuntimeError:
                for writer in running:
                    writer.kill()
                raise
            time.sleep(rng.uniform(0.2, 1.0))  # let them write a while
            # kill the writers one by one at random moments; crash the server somewhere among them
            events: list[Writer | None] = [*running, None] if crash_server else list(running)
            rng.shuffle(events)
            for event in events:
                time.sleep(rng.uniform(0.0, 0.15))
                if event is None:
                    crash_server()  # type: ignore[misc]
                    report.server_crashes += 1
                else:
                    event.kill()
            if restart_server:
                restart_server()
            acks: Counter[str] = Counter()
            for writer in running:
                for line in writer.lines:
                    kind, *rest = line.split()
                    if kind == "ack":
                        acks[rest[0]] += 1
                    elif kind == "resent":
                        report.resent += 1
                        report.resent_recreated += rest[1] == "created"
            acknowledged.update(acks)
            report.cycles = cycle + 1
            report.acknowledged = len(acknowledged)
            check(url, acknowledged, report)
            if not report.clean:
                report.problems.append(f"cycle {cycle + 1}: not clean")
                break
    report.seconds = time.perf_counter() - started
    return report


def run_sqlite(cycles: int, *, writers: int = 3, seed: int = 0) -> CrashReport:
    """Kill cycles against a fresh SQLite file (WAL, ``synchronous=FULL``)."""
    with tempfile.TemporaryDirectory(prefix="crash-sqlite-") as folder:
        url = f"sqlite:///{Path(folder) / 'assistant.db'}"
        prepare(url)
        return run_cycles(url, cycles, writers=writers, seed=seed, backend="sqlite")


def run_postgres(cycles: int, *, writers: int = 3, seed: int = 0) -> CrashReport:
    """Kill cycles against a private PostgreSQL cluster, crashed (immediate shutdown) every cycle."""
    server = PrivatePostgres()
    try:
        server.start()
        prepare(server.url)
        return run_cycles(
            server.url,
            cycles,
            writers=writers,
            seed=seed,
            crash_server=server.crash,
            restart_server=server.start,
            backend="postgresql",
        )
    finally:
        server.close()
