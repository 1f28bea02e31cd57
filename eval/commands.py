"""``assistant eval …``: measure a release, simulate the learning loop, run the benchmarks.

Same conventions as every `assistant` command: ``--json`` prints one JSON document; bad input (a
golden set that cannot be read, an unknown corpus) exits with code 2 and one line saying what
to fix. Every run writes one report folder (``report.json``, ``report.md``, plots).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import JsonOption, err, fail, load_settings, open_store, out, print_json
from assistant.config import Settings

eval_app = typer.Typer(help="The evaluation harness: measure a release, simulate the flywheel, benchmarks.")
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Report folder (default: <home>/eval/<time>-<what>).")
]


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to the main CLI."""
    app.add_typer(eval_app, name="eval")


def _require_eval_extras() -> None:
    try:
        import datasets  # noqa: F401
        import ranx  # noqa: F401
        import rouge_score  # noqa: F401
    except ImportError as exc:
        fail(f"{exc.name} is missing: pip install 'support-assistant[eval,train]'")


def _report_folder(settings: Settings, out_dir: Path | None, what: str) -> Path:
    return out_dir or settings.home / "eval" / f"{time.strftime('%Y%m%d-%H%M%S')}-{what}"


@eval_app.command("release")
def eval_release(
    golden: Annotated[
        Path | None, typer.Option("--golden", help="CSV/JSONL golden set (default: ASSISTANT_GOLDEN_SET).")
    ] = None,
    answers: Annotated[
        int, typer.Option("--answers", min=0, help="Questions to answer with the model.")
    ] = 20,
    oos: Annotated[
        int, typer.Option("--oos", min=0, help="Out-of-scope questions to check abstention on.")
    ] = 300,
    out_dir: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the active release on a golden set and out-of-scope questions (nothing is logged)."""
    _require_eval_extras()
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseRegistry
    from eval.harness import measure, metrics_markdown, settings_record, write_report
    from training.gate import GoldenSetError, load_golden, out_of_scope

    settings = load_settings()
    path = golden or (Path(settings.golden_set) if settings.golden_set else None)
    if path is None:
        fail("give --golden FILE (CSV/JSONL: question, doc_ids and/or answer) or set ASSISTANT_GOLDEN_SET")
    if not path.is_file():
        fail(f"golden set {path} does not exist")
    try:
        items = load_golden(path)
    except GoldenSetError as exc:
        fail(str(exc))
    registry = ReleaseRegistry(settings.releases_dir)
    if registry.current_id() is None:
        fail("no active release: run `assistant ingest` first")
    assistant = Assistant(settings, open_store(settings), registry)
    metrics = measure(assistant, items, out_of_scope(oos), answer_samples=answers)
    report = {
        "release": registry.current_id(),
        "golden_set": str(path),
        "sizes": {
            "golden": len(items),
            "oos": oos,
            "answers": min(answers, sum(bool(i.answer) for i in items)),
        },
        "metrics": metrics,
        "settings": settings_record(settings),
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }
    title = f"# Release {report['release']} on {path.name} ({report['measured_at']})"
    folder = write_report(
        _report_folder(settings, out_dir, "release"), report, f"{title}\n\n{metrics_markdown(metrics)}\n"
    )
    report["folder"] = str(folder)
    if as_json:
        print_json(report)
        return
    out.print(metrics_markdown(metrics))
    out.print(f"report: {folder}")


@eval_app.command("flywheel")
def eval_flywheel(
    corpus: Annotated[
        str, typer.Option("--corpus", help="bitext (the demo help centre) or abcd.")
    ] = "bitext",
    quick: Annotated[bool, typer.Option("--quick", help="A few minutes: one small cycle (CI).")] = False,
    cycles: Annotated[
        int | None, typer.Option("--cycles", min=1, help="Learning cycles after cycle 0.")
    ] = None,
    stream: Annotated[
        int | None, typer.Option("--stream", min=1, help="Customer questions per cycle.")
    ] = None,
    lead_share: Annotated[
        float | None,
        typer.Option("--lead-share", min=0.0, max=1.0, help="Share of the queue the lead works."),
    ] = None,
    out_dir: OutOption = None,
    work: Annotated[
        Path | None,
        typer.Option("--work", help="Keep the simulation's data home here (default: a temp folder)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate customers, a lead and K real learning cycles on public data; report per cycle.

    Runs in its own data home (the models are shared); your store and releases are not touched.
    """
    _require_eval_extras()
    from dataclasses import replace

    from eval.flywheel import FULL, QUICK, simulate, table, write_flywheel_report
    from training.public_data import CORPORA, sandbox_home

    if corpus not in CORPORA:
        fail(f"unknown corpus {corpus!r}: choose one of {', '.join(CORPORA)}")
    config = QUICK if quick else FULL
    overrides = {"cycles": cycles, "stream_per_cycle": stream, "lead_share": lead_share}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    settings = load_settings()
    folder = _report_folder(settings, out_dir, f"flywheel-{corpus}")
    if work is not None and work.exists() and any(work.iterdir()):
        fail(f"--work {work} is not empty")
    with sandbox_home(settings.model_cache_dir, work) as home:
        try:
            report = simulate(
                corpus, config, home, progress=lambda line: err.print(line, markup=False, highlight=False)
            )
        except ValueError as exc:
            fail(str(exc))
    write_flywheel_report(report, folder)
    report["folder"] = str(folder)
    if as_json:
        print_json(report)
        return
    typer.echo(table(report))  # plain Markdown: rich would wrap the wide table
    typer.echo(f"report: {folder}")


@eval_app.command("bench")
def eval_bench(
    names: Annotated[list[str] | None, typer.Argument(help="Benchmarks to run (default: all).")] = None,
) -> None:
    """Run the speed and quality benchmarks; updates eval/reports and docs/benchmarks.md."""
    _require_eval_extras()
    from eval.run_benchmarks import BENCHMARKS, run_benchmarks

    unknown = set(names or ()) - set(BENCHMARKS)
    if unknown:
        fail(f"unknown benchmark(s) {', '.join(sorted(unknown))}: choose from {', '.join(BENCHMARKS)}")
    run_benchmarks(names or list(BENCHMARKS))
