"""The benchmark section says when each benchmark last ran, since a partial re-run keeps the others."""

from eval.run_benchmarks import _run_dates


def test_run_dates_group_benchmarks_by_the_day_they_ran() -> None:
    results = {
        "generation": {"measured_on": "2026-11-27"},
        "ingest": {"measured_on": "2026-11-27"},
        "load": {"measured_on": "2026-11-29"},
        "cycle": {"measured_on": "2026-11-27"},
    }
    assert _run_dates(results) == "generation, ingest and cycle 2026-11-27; load 2026-11-29"


def test_a_result_without_a_date_says_so() -> None:
    results = {"crash": {}, "load": {"measured_on": "2026-11-29"}}
    assert _run_dates(results) == "load 2026-11-29; crash date not recorded"
