"""``assistant stats``: the dashboard's numbers per day or per release, as a table, JSON or CSV.

Same conventions as :mod:`assistant.cli`: ``--json`` prints one JSON document; bad input (a
date that is not YYYY-MM-DD, an empty window) exits with code 2 and one line saying what to fix.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from assistant.cli.common import JsonOption, fail, load_settings, open_store, out, print_json
from assistant.review.dashboard import GROUPINGS, RATE_KEYS, dashboard_csv, dashboard_rows

HEADERS = {  # short, so ten columns fit an 80-column terminal
    "questions": "asked",
    "thumbs_up_rate": "👍",
    "thumbs_down_rate": "👎",
    "resolution_rate": "solved",
    "escalation_rate": "escal.",
    "abstention_rate": "abst.",
    "curated_rate": "curated",
    "latency_p50_ms": "p50",
    "latency_p95_ms": "p95",
}


def register(app: typer.Typer) -> None:
    """Add the ``stats`` command to the main CLI."""
    app.command("stats")(stats)


def _day(value: str | None, option: str) -> datetime | None:
    """Midnight UTC of a ``YYYY-MM-DD`` option value, or exit 2."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} must be a date like 2025-01-31, not {value!r}")
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def stats(
    by: Annotated[str, typer.Option("--by", help=f"Group by {' or '.join(GROUPINGS)}.")] = "day",
    since: Annotated[
        str | None,
        typer.Option("--since", help="First day (YYYY-MM-DD, UTC); default 30 days before --until."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day, included (YYYY-MM-DD, UTC); default now.")
    ] = None,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (header row first).")] = False,
) -> None:
    """Per day or release: questions, 👍/👎, resolution, escalation, abstention and curated-answer rates,
    p50/p95 latency."""
    if by not in GROUPINGS:
        fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    start = _day(since, "--since")
    end = _day(until, "--until")
    end = end + timedelta(days=1) if end is not None else None
    store = open_store(load_settings())
    try:
        with store.session() as session:
            rows = dashboard_rows(session, by=by, since=start, until=end)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(rows)
    elif as_csv:
        typer.echo(dashboard_csv(rows, by=by), nl=False)  # type: ignore[arg-type]
    elif not rows:
        out.print("no questions in this period")
    else:
        out.print(_table(rows, by))


def _table(rows: list[dict], by: str) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0, 0, 1),
        caption="rates in % of questions; latency in ms",
    )
    table.add_column(by, overflow="fold", min_width=10)
    for header in HEADERS.values():
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        cells = [str(row[by]), str(row["questions"])]
        cells += [f"{100 * row[key]:.1f}" for key in RATE_KEYS]
        cells += ["–" if row[key] is None else str(row[key]) for key in ("latency_p50_ms", "latency_p95_ms")]
        table.add_row(*cells)
    return table
