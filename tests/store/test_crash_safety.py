"""The feedback log loses nothing acknowledged when writers (and the PostgreSQL server) are killed.

A few cycles of :mod:`eval.crash_harness` per backend; ``python -m eval.bench_crash`` runs hundreds.
"""

from __future__ import annotations

import pytest

from eval.crash_harness import CrashReport, postgres_unavailable, run_postgres, run_sqlite

pytestmark = pytest.mark.slow  # starts a dozen Python processes and a PostgreSQL cluster

CYCLES = 3


def assert_clean(report: CrashReport) -> None:
    assert report.cycles == CYCLES, report.problems
    assert report.acknowledged > 0, "no writer got anything acknowledged: the test proved nothing"
    assert report.resent > 0, "no acknowledged key was sent again"
    assert report.lost == 0 and report.resent_recreated == 0, report.to_dict()
    assert report.duplicated == 0, report.to_dict()
    assert report.unflagged == 0, report.to_dict()
    assert report.integrity == "ok", report.to_dict()


def test_sigkilled_sqlite_writers_lose_nothing_acknowledged() -> None:
    assert_clean(run_sqlite(CYCLES, writers=2, seed=1))


def test_crashed_private_postgres_loses_nothing_acknowledged() -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    report = run_postgres(CYCLES, writers=2, seed=1)
    assert_clean(report)
    assert report.server_crashes == CYCLES
