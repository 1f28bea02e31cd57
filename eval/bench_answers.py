"""Answers before and after: what customers read on the held-out test questions of Bitext and
ABCD, through the previous answering path and the current default, side by side in one run.

*before* is the path as it was until December 2026 (the base model in fp32, five sources cut at
420 characters, no answer check, no repetition penalty, up to 160 tokens); *after* is today's
default settings (the starter adapter, int8, passages, the answer check).
Each corpus and path runs in its own process, so the peak memory reported is that path's own.
Both use the default model on the base release (no adapter); nothing is logged.

Run: ``python -m eval.bench_answers [--questions 40] [--paths before,after] [--json] [--out FILE]``
(or ``assistant eval bench answers``, which writes the table into docs/benchmarks.md);
``--paths after,fp32`` also measures today's path without the int8 layers (``ASSISTANT_QUANTIZE=false``),
``no-starter`` without the starter adapter, ``new-starter`` with the one ``python -m training.starter``
wrote last (to compare a rebuilt adapter with the shipped one).
"""

from __future__ import annotations

import resource
import sys
from typing import Any

from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.store import Store
from eval.bench_cli import emit, parse_args
from eval.flywheel import as_eval_items
from eval.harness import measure
from training.public_data import CORPORA, load_corpus, sandbox_home, split
from training.starter import default_starter_dir

PATHS: dict[str, dict[str, Any]] = {
    "before": {
        "starter_adapter": "",
        "quantize": False,
        "answer_check": False,
        "prompt_sources": 5,
        "prompt_sentences": 0,
        "repetition_penalty": 1.0,
        "max_new_tokens": 160,
    },
    "after": {},
}
# paths measured on request only (``--paths``): candidates for a future default
OTHER_PATHS: dict[str, dict[str, Any]] = {
    "fp32": {"quantize": False},
    "no-starter": {"starter_adapter": ""},
    # the adapter `python -m training.starter` wrote last (default folder), in place of the shipped one
    "new-starter": {"starter_adapter": str(default_starter_dir(Settings(_env_file=None)))},
}
KNOWN_PATHS = PATHS | OTHER_PATHS
# (metric, label, goal) of the table, in the order the issue states its goals
GOALS = (
    ("answer_degenerate", "loops", "≤ 0.02"),
    ("answer_refused_covered", "refusals, article retrieved", "≤ 0.02"),
    ("answer_similarity", "similarity to reference", "≥ 0.55"),
    ("answer_rouge_l", "ROUGE-L", ""),
    ("resolution", "simulated resolution", "≥ 0.5"),
    ("answer_fallback", "replaced by the extractive answer", ""),
    ("hit@1", "right article first (hit@1)", ""),
    ("first_token_ms.p50", "first text shown, p50 (ms)", "≤ 1000"),
    ("total_ms.p50", "full answer, p50 (ms)", "≤ 4000"),
    ("peak_rss_mb", "peak memory (MB)", ""),
)


def run_path(corpus: str, path: str, questions: int) -> dict[str, Any]:
    """Measure ``path`` on the first ``questions`` test questions of ``corpus`` (in this process)."""
    model_cache = Settings(_env_file=None).model_cache_dir
    with sandbox_home(model_cache) as home:
        data = load_corpus(corpus, home.parent)
        test = split(data.questions)["test"][:questions]
        settings = Settings(home=home, _env_file=None, **KNOWN_PATHS[path])
        store = Store(settings.resolved_database_url)
        store.upgrade()
        assistant = Assistant(settings, store, ReleaseRegistry(settings.releases_dir))
        assistant.ingest([data.kb])
        assistant.answer_unlogged("warm up: how do I cancel an order?", release=assistant.registry.current())
        metrics = measure(assistant, as_eval_items(test), answer_samples=questions)
    metrics["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"corpus": corpus, "path": path, "questions": len(test), "metrics": metrics}


def run(questions: int, paths: list[str]) -> dict[str, Any]:
    """Every corpus through each of ``paths``, each in a child process; one report."""
    from eval.run_benchmarks import run_one

    results: dict[str, dict[str, Any]] = {}
    for corpus in CORPORA:
        for path in paths:
            one = run_one(["eval.bench_answers", "--one", f"{corpus}:{path}", "--questions", str(questions)])
            results.setdefault(corpus, {"questions": one["questions"]})[path] = one["metrics"]
    chosen = {path: KNOWN_PATHS[path] for path in paths}
    return {"questions": questions, "paths": chosen, "corpora": results, "generator": Settings().generator}


def table(report: dict[str, Any]) -> list[str]:
    """One row per metric, before and after for each corpus."""
    corpora, paths = report["corpora"], list(report["paths"])
    header = ["metric", *(f"{c} {p}" for c in corpora for p in paths), "goal"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for metric, label, goal in GOALS:
        cells = []
        for corpus in corpora.values():
            for path in paths:
                value = corpus[path].get(metric)
                cells.append("" if value is None else f"{value:g}")
        lines.append(f"| {label} | {' | '.join(cells)} | {goal} |")
    return lines


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--questions": {"type": int, "default": 40, "help": "test questions per corpus"},
            "--paths": {
                "default": ",".join(PATHS),
                "help": f"comma-separated, of {', '.join(KNOWN_PATHS)}",
            },
            "--one": {"help": "CORPUS:PATH: measure one in this process (what `run` starts)"},
        },
    )
    if args.one:
        corpus, path = args.one.split(":")
        emit(run_path(corpus, path, args.questions), args)
        return
    paths = args.paths.split(",")
    unknown = set(paths) - set(KNOWN_PATHS)
    if unknown:
        sys.exit(f"unknown path(s) {', '.join(sorted(unknown))}: choose from {', '.join(KNOWN_PATHS)}")
    report = run(args.questions, paths)
    if emit(report, args):
        print("\n".join(table(report)))


if __name__ == "__main__":
    main()
