"""Wall time of one whole learning cycle on a log of 1,000 feedback items, stage by stage.

The log: 1,000 Bitext questions asked through the real pipeline (real retrieval over the demo
help centre). To build a large log quickly, the logged answers replay Bitext's reference
answers instead of being generated; the cycle itself then runs for real, with the real
models: datasets, LoRA SFT, retriever tuning, re-indexing, the gate (which does generate) and
activation. Customers vote 👍 + resolved when the top source is the right article, else 👎;
a lead corrects every 10th 👎 with the reference answer and the right article.

Run: ``python -m eval.bench_cycle [--items 1000] [--json] [--out FILE]``
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from assistant.config import Settings
from assistant.feedback import record_feedback_and_flag
from assistant.generation.base import Generator
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.review.actions import review
from assistant.store import Store
from assistant.store.models import FlagRow
from assistant.types import Usage
from eval.bench_cli import emit, parse_args
from training.cycle import run_cycle
from training.public_data import bitext_questions, demo_kb

# The settings this benchmark states (what a 2-core CPU needs to stay within 15 minutes).
CYCLE_SETTINGS = {
    "lora_epochs": 1.0,
    "lora_max_steps": 60,
    "lora_batch_size": 4,
    "lora_max_length": 512,
    "retriever_epochs": 1.0,
    "retriever_batch_size": 32,
    "gate_answer_samples": 10,
    "gate_oos_samples": 300,
}
QUICK_SETTINGS = CYCLE_SETTINGS | {"lora_max_steps": 2, "gate_answer_samples": 1, "gate_oos_samples": 20}
CORRECT_EVERY = 10


class ReplayGenerator(Generator):
    """Answers with the text it was given for the question being asked (to build a log fast)."""

    model_id = "replay"

    def __init__(self) -> None:
        self.next_answer = ""

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int, usage: Usage | None = None
    ) -> Iterator[str]:
        yield self.next_answer


def build_log(assistant: Assistant, replay: ReplayGenerator, items: int) -> dict[str, int]:
    counts = {"up": 0, "down": 0, "corrected": 0}
    for number, item in enumerate(bitext_questions(items, seed=3)):
        replay.next_answer = item.reference
        answer = assistant.ask(item.question, channel="web", user_id=f"customer-{number}")
        right = bool(answer.citations) and answer.citations[0].doc_id == item.doc_id
        signals = [("up", None), (None, "resolved")] if right else [("down", None)]
        for rating, resolution in signals:
            record_feedback_and_flag(
                assistant.store,
                assistant.settings,
                interaction_id=answer.interaction_id,
                rating=rating,
                resolution=resolution,
                voter=f"customer-{number}",
            )
        counts["up" if right else "down"] += 1
        if not right and counts["down"] % CORRECT_EVERY == 1:
            with assistant.store.session() as session:
                flag = session.query(FlagRow).filter_by(interaction_id=answer.interaction_id).one()
                review(
                    session,
                    flag.id,
                    "correct",
                    expected_version=flag.version,
                    actor="lead",
                    answer=item.reference,
                    doc_ids=[item.doc_id],
                )
            counts["corrected"] += 1
    return counts


def run(items: int, cache_dir: Path | None, quick: bool = False) -> dict:
    chosen = QUICK_SETTINGS if quick else CYCLE_SETTINGS
    with tempfile.TemporaryDirectory() as work:
        home = Path(work) / "home"
        home.mkdir()
        # the data home's model cache, as on a server that has run before (conversion is one-off)
        models = (cache_dir or Settings(_env_file=None).model_cache_dir).resolve()
        models.mkdir(parents=True, exist_ok=True)
        (home / "models").symlink_to(models, target_is_directory=True)
        settings = Settings(home=home, _env_file=None, **chosen)
        store = Store(settings.resolved_database_url)
        store.upgrade()
        registry = ReleaseRegistry(settings.releases_dir)
        embedder = Embedder(settings.embedder)
        replay = ReplayGenerator()
        logger = Assistant(settings, store, registry, embedder=embedder, generator_factory=lambda _: replay)
        logger.ingest([demo_kb()])
        started = time.perf_counter()
        counts = build_log(logger, replay, items)
        log_s = time.perf_counter() - started

        started = time.perf_counter()
        result = run_cycle(settings, store, registry, embedder=embedder)
        cycle_s = time.perf_counter() - started
    return {
        "items": items,
        "log": counts,
        "log_build_s": round(log_s, 1),
        "cycle_s": round(cycle_s, 1),
        "status": result.status,
        "reason": result.reason,
        "verdict": result.verdict,
        "activated": result.activated,
        "dataset_counts": (result.dataset or {}).get("counts"),
        "stages": result.stages,
        "gate": (result.report or {}).get("metrics"),
        "settings": chosen,
        "target_s": 15 * 60,
        "measured_at": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--items": {"type": int, "default": 1000, "help": "feedback items in the log"},
            "--cache-dir": {"type": Path, "default": None, "help": "model cache (default: the data home's)"},
            "--quick": {"action": "store_true", "help": "a smoke run: 2 SFT steps, a small gate"},
        },
    )
    report = run(args.items, args.cache_dir, args.quick)
    if emit(report, args):
        print(
            f"one cycle on {report['items']} feedback items: {report['cycle_s'] / 60:.1f} min "
            f"({report['status']}, gate {report['verdict']}); stages: {report['stages']}"
        )


if __name__ == "__main__":
    main()
