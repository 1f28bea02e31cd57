"""The README stays true to the code: current settings table, the two commands first."""

from __future__ import annotations

from pathlib import Path

from assistant.config import settings_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_settings_table_is_current() -> None:
    assert settings_table() in README, "README settings table is stale: paste `python -m assistant.config`"


def test_benchmark_section_is_the_last_real_run() -> None:
    report = (Path(__file__).resolve().parent.parent / "eval" / "reports" / "benchmarks.md").read_text()
    assert f"<!-- benchmarks:start -->\n{report}<!-- benchmarks:end -->" in README


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == [
        "make run",
        "make test",
    ]
