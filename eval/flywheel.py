"""The flywheel simulation: does the assistant get better, cycle after cycle, on data it did not write?

A corpus (a knowledge base plus labelled customer questions: Bitext, or the ABCD procedures) is
split by groups of near-duplicate questions (digits and names masked first) into a feedback
*stream*, a *dev* set (the gate's golden set) and a held-out *test* set that never reaches the
log. Each cycle, simulated customers ask the next stream questions through the real pipeline
(retrieval, curated answers, the real model) and vote: 👍 when the answer's first source is the
right article, "resolved" when the answer is also close to the reference, else 👎 and
"unresolved". A simulated lead then works a share of the review queue with the review actions
leads use (approve a right answer, else correct it with the reference and the right article).
Then a real learning cycle runs (:func:`training.cycle.run_cycle`: datasets, LoRA, retriever
tuning, re-indexing, the gate, activation) and the test set is measured
(:func:`eval.harness.measure`). Cycle 0 is the untouched base release.

Use :func:`simulate` (``assistant eval flywheel``); :func:`write_flywheel_report` writes the
table and plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.feedback import record_feedback_and_flag
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.review.actions import STATUS_OF, review
from assistant.review.flags import list_flags
from assistant.store import Store
from assistant.store.models import InteractionRow
from assistant.types import Answer
from eval.harness import measure, settings_record, write_report
from training.cycle import run_cycle
from training.gate import EvalItem, out_of_scope
from training.public_data import LabelledQuestion, load_corpus, near_duplicate_key, split

# Test metrics whose fall after a promoted cycle counts as "worse" (beyond sampling noise).
WATCHED = ("hit@1", "recall@5", "answer_similarity", "answered", "oos.abstention")
WORSE_BY = 0.02

# Settings of the simulation's data home: what a 2-core CPU needs for three cycles in about an hour.
# int8 generation (the default) with fewer sources and shorter answers keeps each
# simulated customer at a few seconds; LoRA is capped at a few dozen steps per cycle.
FULL_SETTINGS: dict[str, Any] = {
    "quantize": True,
    "top_k": 3,
    "max_new_tokens": 80,
    "lora_epochs": 1.0,
    "lora_max_steps": 24,
    "lora_batch_size": 4,
    "lora_max_length": 512,
    "retriever_epochs": 4.0,
    "retriever_batch_size": 32,
    "gate_answer_samples": 8,
    "gate_oos_samples": 300,
}
QUICK_SETTINGS = FULL_SETTINGS | {
    "quantize": False,
    "max_new_tokens": 24,
    "lora_max_steps": 2,
    "retriever_epochs": 1.0,
    "gate_answer_samples": 2,
    "gate_oos_samples": 20,
}


@dataclass(frozen=True)
class SimulationConfig:
    """How big a simulation is; :data:`FULL` fills docs/evaluation.md, :data:`QUICK` runs in CI."""

    cycles: int = 3
    stream_per_cycle: int = 60
    lead_share: float = 0.5
    test_size: int = 400
    answer_samples: int = 16
    oos_samples: int = 300
    resolve_similarity: float = 0.5
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=lambda: dict(FULL_SETTINGS))


FULL = SimulationConfig()
QUICK = SimulationConfig(
    cycles=1,
    stream_per_cycle=40,
    test_size=60,
    answer_samples=3,
    oos_samples=40,
    settings=dict(QUICK_SETTINGS),
)


# --- the split ---------------------------------------------------------------------------------


def as_eval_items(questions: Sequence[LabelledQuestion]) -> list[EvalItem]:
    return [EvalItem(q.question, (q.doc_id,), q.reference) for q in questions]


def write_golden(questions: Sequence[LabelledQuestion], path: Path) -> Path:
    """The dev set as a golden-set JSONL file (what ``ASSISTANT_GOLDEN_SET`` reads)."""
    lines = (
        json.dumps({"question": q.question, "doc_ids": [q.doc_id], "answer": q.reference}) for q in questions
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- simulated customers and lead --------------------------------------------------------------


def customer_outcome(
    answer: Answer, item: LabelledQuestion, embedder: Embedder, resolve_similarity: float
) -> tuple[bool, bool]:
    """(right source, resolved) as the simulated customer judges ``answer``."""
    right = bool(answer.citations) and answer.citations[0].doc_id == item.doc_id and not answer.abstained
    if not right:
        return False, False
    vectors = embedder.encode([answer.answer, item.reference])
    return True, float(vectors[0] @ vectors[1]) >= resolve_similarity


def vote(assistant: Assistant, answer: Answer, voter: str, *, right: bool, resolved: bool) -> None:
    """The customer's 👍/👎 and resolved/unresolved, through the feedback path every channel uses."""
    for rating, resolution in (
        ("up" if right else "down", None),
        (None, "resolved" if resolved else "unresolved"),
    ):
        record_feedback_and_flag(
            assistant.store,
            assistant.settings,
            interaction_id=answer.interaction_id,
            rating=rating,
            resolution=resolution,
            voter=voter,
        )


def lead_works_queue(
    assistant: Assistant, asked: dict[str, LabelledQuestion], share: float
) -> dict[str, int]:
    """Work the first ``share`` of the open queue: approve right answers, correct the rest."""
    counts = {"approved": 0, "corrected": 0}
    with assistant.store.session() as session:
        queue = [flag for flag in list_flags(session, limit=100_000) if flag["interaction_id"] in asked]
        for flag in queue[: round(len(queue) * share)]:
            item = asked[flag["interaction_id"]]
            interaction = session.get(InteractionRow, flag["interaction_id"])
            cited = [c["doc_id"] for c in interaction.citations or []]
            right = cited[:1] == [item.doc_id] and not interaction.abstained
            fix = {} if right else {"answer": item.reference, "doc_ids": [item.doc_id]}
            action = "approve" if right else "correct"
            review(
                session,
                flag["id"],
                action,
                expected_version=flag["version"],
                actor="sim-lead",
                embedder=assistant.embedder,
                **fix,
            )
            counts[STATUS_OF[action]] += 1
            session.commit()
    return counts


def customers_ask(
    assistant: Assistant, batch: Sequence[LabelledQuestion], *, start: int, resolve_similarity: float
) -> tuple[dict[str, LabelledQuestion], dict[str, int]]:
    """Each question asked by its own customer through the real pipeline, then voted on."""
    asked: dict[str, LabelledQuestion] = {}
    counts = {"asked": 0, "up": 0, "resolved": 0, "curated": 0, "abstained": 0}
    for number, item in enumerate(batch, start=start):
        customer = f"sim-customer-{number}"
        answer = assistant.ask(item.question, channel="web", user_id=customer)
        right, resolved = customer_outcome(answer, item, assistant.embedder, resolve_similarity)
        vote(assistant, answer, customer, right=right, resolved=resolved)
        asked[answer.interaction_id] = item
        counts["asked"] += 1
        counts["up"] += right
        counts["resolved"] += resolved
        counts["curated"] += answer.curated_answer_id is not None
        counts["abstained"] += answer.abstained
    return asked, counts


def training_leaks(store: Store, dataset_path: str | None, test_keys: set[str]) -> int:
    """Rows of the cycle's training sets whose question is a near-duplicate of a test question."""
    from datasets import load_from_disk

    if not dataset_path:
        return 0
    interaction_ids: set[str] = set()
    for kind in ("sft", "kto", "pairs"):
        folder = Path(dataset_path) / kind
        if folder.is_dir():
            for rows in load_from_disk(str(folder)).values():
                interaction_ids.update(i for i in rows["interaction_id"] if i)
    with store.session() as session:
        questions = [session.get(InteractionRow, i).question for i in interaction_ids]
    return sum(near_duplicate_key(q) in test_keys for q in questions)


# --- the simulation ----------------------------------------------------------------------------


def simulate(corpus_name: str, config: SimulationConfig, home: Path, *, progress=print) -> dict[str, Any]:
    """Run cycle 0 (the base release) and ``config.cycles`` learning cycles; the report as a dict."""
    corpus = load_corpus(corpus_name, home.parent)
    parts = split(corpus.questions, seed=config.seed)
    needed = config.cycles * config.stream_per_cycle
    if len(parts["stream"]) < needed:
        raise ValueError(f"{corpus.name} has {len(parts['stream'])} stream questions; {needed} are needed")
    test = parts["test"][: config.test_size]
    test_items = as_eval_items(test)
    oos = out_of_scope(config.oos_samples)
    golden = write_golden(parts["dev"], home.parent / f"{corpus.name}-dev.jsonl")

    settings = Settings(home=home, _env_file=None, golden_set=str(golden), **config.settings)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    registry = ReleaseRegistry(settings.releases_dir)
    embedder = Embedder(settings.embedder)
    assistant = Assistant(settings, store, registry, embedder=embedder)
    assistant.ingest([corpus.kb])
    test_keys = {near_duplicate_key(q.question) for q in test}

    def measured() -> dict[str, Any]:
        return measure(
            assistant,
            test_items,
            oos,
            answer_samples=config.answer_samples,
            resolve_similarity=config.resolve_similarity,
        )

    progress(f"[{corpus.name}] cycle 0: measuring the base release on {len(test_items)} test questions")
    rows: list[dict[str, Any]] = [{"cycle": 0, "release": registry.current_id(), "test": measured()}]
    asked: dict[str, LabelledQuestion] = {}
    for cycle in range(1, config.cycles + 1):
        started = time.perf_counter()
        batch = parts["stream"][(cycle - 1) * config.stream_per_cycle : cycle * config.stream_per_cycle]
        progress(f"[{corpus.name}] cycle {cycle}: {len(batch)} customers ask")
        new, stream = customers_ask(
            assistant,
            batch,
            start=(cycle - 1) * config.stream_per_cycle,
            resolve_similarity=config.resolve_similarity,
        )
        asked.update(new)
        lead = lead_works_queue(assistant, asked, config.lead_share)
        progress(f"[{corpus.name}] cycle {cycle}: stream {stream}, lead {lead}; learning cycle runs")
        result = run_cycle(settings, store, registry, embedder=embedder)
        assistant.refresh()
        leaks = training_leaks(store, (result.dataset or {}).get("path"), test_keys)
        row = {
            "cycle": cycle,
            "release": registry.current_id(),
            "candidate": result.candidate_release,
            "status": result.status,
            "reason": result.reason,
            "verdict": result.verdict,
            "gate_reasons": (result.report or {}).get("reasons", []),
            "promoted": result.activated,
            "retrieval_only": bool(
                result.candidate_release
                and "retrieval_only_of" in registry.get(result.candidate_release).notes
            ),
            "stream": stream,
            "lead": lead,
            "dataset_counts": (result.dataset or {}).get("counts"),
            "training_leaks": leaks,
            "stages": result.stages,
        }
        progress(f"[{corpus.name}] cycle {cycle}: {result.status}, gate {result.verdict}; measuring")
        row["test"] = measured()
        row["minutes"] = round((time.perf_counter() - started) / 60, 1)
        rows.append(row)
    return {
        "corpus": corpus.name,
        "config": asdict(config),
        "sizes": {name: len(items) for name, items in parts.items()}
        | {"test_used": len(test), "oos": len(oos)},
        "cycles": rows,
        "worse_after_promotion": worse_after_promotion(rows),
        "settings": settings_record(settings),
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }


def worse_after_promotion(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each watched test metric that a promoted cycle made worse by more than :data:`WORSE_BY`."""
    found = []
    for before, after in zip(rows, rows[1:], strict=False):
        if not after.get("promoted"):
            continue
        for metric in WATCHED:
            old, new = before["test"].get(metric), after["test"].get(metric)
            if old is not None and new is not None and new < old - WORSE_BY:
                found.append(f"cycle {after['cycle']}: {metric} {old:.3f} → {new:.3f}")
    return found


# --- the report --------------------------------------------------------------------------------

TABLE_METRICS = (
    ("hit@1", "hit@1"),
    ("recall@5", "recall@5"),
    ("mrr", "MRR"),
    ("answer_similarity", "answer sim."),
    ("answer_rouge_l", "ROUGE-L"),
    ("answer_degenerate", "loops"),
    ("answer_fallback", "fallback"),
    ("resolution", "resolved"),
    ("curated_hits", "curated"),
    ("answered", "in-scope answered"),
    ("oos.abstention", "OOS abstained"),
)


def table(report: dict[str, Any]) -> str:
    """The per-cycle Markdown table of one simulation."""
    header = ["cycle", "promoted", *(label for _, label in TABLE_METRICS), "stream 👍", "lead fixes"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in report["cycles"]:
        test = row["test"]
        cells = [
            str(row["cycle"]),
            "base"
            if row["cycle"] == 0
            else (
                ("yes, retrieval only" if row.get("retrieval_only") else "yes")
                if row["promoted"]
                else f"no ({row['verdict'] or row['status']})"
            ),
        ]
        cells += ["" if test.get(key) is None else f"{test[key]:.3f}" for key, _ in TABLE_METRICS]
        stream, lead = row.get("stream"), row.get("lead")
        cells.append(f"{stream['up']}/{stream['asked']}" if stream else "")
        cells.append(str(lead["corrected"] + lead["approved"]) if lead else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> Path:
    """Four panels per cycle: retrieval, answers, scope, outcomes (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cycles = [row["cycle"] for row in report["cycles"]]
    panels = (
        ("Retrieval", ("hit@1", "recall@5", "mrr")),
        ("Answers", ("answer_similarity", "answer_rouge_l", "answer_fallback")),
        ("Scope", ("answered", "oos.abstention")),
        ("What customers got", ("resolution", "curated_hits")),
    )
    figure, axes = plt.subplots(1, 4, figsize=(16, 3.6), constrained_layout=True)
    for axis, (title, metrics) in zip(axes, panels, strict=True):
        for metric in metrics:
            values = [row["test"].get(metric) for row in report["cycles"]]
            if any(v is not None for v in values):
                axis.plot(cycles, [np.nan if v is None else v for v in values], marker="o", label=metric)
        axis.set_title(title)
        axis.set_xlabel("cycle")
        axis.set_xticks(cycles)
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Flywheel simulation on {report['corpus']}: held-out test set after each cycle")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_flywheel_report(report: dict[str, Any], folder: Path) -> Path:
    """``report.json``, ``report.md`` (table, cycle notes, settings) and ``flywheel.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    plot(report, folder / "flywheel.png")
    notes = []
    for row in report["cycles"][1:]:
        reasons = "; ".join(row["gate_reasons"]) or "—"
        notes.append(
            f"- cycle {row['cycle']}: {row['status']}, gate {row['verdict']} ({reasons}); release "
            f"{row['release']}; dataset {row['dataset_counts']}; {row['training_leaks']} test leaks; "
            f"{row['minutes']} min"
        )
    worse = report["worse_after_promotion"]
    markdown = "\n".join(
        [
            f"# Flywheel simulation: {report['corpus']} ({report['measured_at']})",
            "",
            f"Splits by near-duplicate group: {report['sizes']}.",
            "",
            table(report),
            "",
            "![per-cycle metrics](flywheel.png)",
            "",
            *notes,
            "",
            "Promoted cycles that made a test metric worse: " + ("; ".join(worse) if worse else "none."),
            "",
            "Configuration: `" + json.dumps(report["config"]) + "`",
            "",
        ]
    )
    return write_report(folder, report, markdown)
