"""Crash safety of the feedback log: hundreds of SIGKILL cycles on SQLite and a private PostgreSQL.

Writer processes record feedback through ``record_feedback_and_flag`` with client UUID keys and
are killed at random moments (the PostgreSQL server is crashed with an immediate shutdown every
cycle too); after each restart every acknowledged event must be stored exactly once and the
database must check clean (see :mod:`eval.crash_harness`).

Run: ``python -m eval.bench_crash [--cycles 300] [--writers 3] [--backends sqlite postgresql]``
(plus ``--json``, ``--out FILE``)
"""

from __future__ import annotations

from eval.bench_cli import emit, parse_args
from eval.crash_harness import postgres_unavailable, run_postgres, run_sqlite

RUNNERS = {"sqlite": run_sqlite, "postgresql": run_postgres}


def run(cycles: int, writers: int, backends: list[str], seed: int = 0) -> dict:
    results = {}
    for backend in backends:
        if backend == "postgresql" and postgres_unavailable():
            results[backend] = {"skipped": postgres_unavailable()}
            continue
        results[backend] = RUNNERS[backend](cycles, writers=writers, seed=seed).to_dict()
    clean = all(r.get("clean", True) for r in results.values())
    return {"cycles": cycles, "writers": writers, "backends": results, "clean": clean}


def table(report: dict) -> list[str]:
    """The report as Markdown table lines, one row per backend (lost counts re-sent keys stored anew)."""
    lines = [
        "| backend | kill cycles | server crashes | acknowledged | re-sent | lost | duplicated | integrity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, r in report["backends"].items():
        if "skipped" in r:
            lines.append(f"| {backend} | skipped: {r['skipped']} | | | | | | |")
            continue
        cells = (
            r["cycles"],
            r["server_crashes"],
            r["acknowledged"],
            r["resent"],
            r["lost"] + r["resent_recreated"],
            r["duplicated"],
            f"{r['integrity']} ({r['seconds']:.0f} s)",
        )
        lines.append(f"| {backend} | " + " | ".join(str(cell) for cell in cells) + " |")
    return lines


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--cycles": {"type": int, "default": 300},
            "--writers": {"type": int, "default": 3},
            "--backends": {"nargs": "+", "choices": list(RUNNERS), "default": list(RUNNERS)},
            "--seed": {"type": int, "default": 0},
        },
    )
    report = run(args.cycles, args.writers, args.backends, args.seed)
    if emit(report, args):
        print("\n".join(table(report)))
    if not report["clean"]:
        raise SystemExit("crash safety FAILED: " + "; ".join(
            p for r in report["backends"].values() for p in r.get("problems", [])
        ))  # fmt: skip


if __name__ == "__main__":
    main()
