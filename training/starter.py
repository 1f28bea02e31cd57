"""A starter LoRA adapter: round 0 answers like a support agent before any customer has voted.

Use :func:`train_starter` (``python -m training.starter``) on a new install that should not wait
for its own log, then point ``ASSISTANT_ADAPTER`` at the folder it writes. It is trained
reproducibly (fixed questions, fixed seed, its configuration saved beside it) on public support
data whose licences allow it (Bitext: CDLA-Sharing-1.0; ABCD: MIT; see ``../shared/data/README.md``),
on the *stream* split of each corpus only (:func:`training.public_data.split`): the dev and test
questions the gate and the evaluation use never reach it.

Each row is what serving gives the model and what a good answer to it reads like:

- the prompt is the serving prompt (:func:`~assistant.generation.prompts.serving_messages`) over
  the sources the base release retrieves for the question from the corpus's own articles; a
  question whose article is not among them is skipped (the model should not learn to answer
  from the wrong sources);
- the completion is the corpus's reference answer as the answer check lets it through (Bitext's
  references open and close with filler such as "I'm here to help", which the check drops and
  the model would otherwise learn), closed by the right article's citation ``[n]``; a reference
  of which nothing passes is skipped.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.generation.answer_check import AnswerCheck
from assistant.generation.prompts import serving_messages
from assistant.pipeline import Assistant
from assistant.releases import STARTER_REPORT, ReleaseRegistry
from assistant.store import Store
from training.lora import LoraTrainingConfig, Progress, TrainResult, train_sft
from training.public_data import CORPORA, Corpus, LabelledQuestion, load_corpus, sandbox_home, split


def default_starter_dir(settings: Settings) -> Path:
    """Where ``python -m training.starter`` writes the adapter unless told otherwise."""
    return settings.home / "adapters" / "starter"


@dataclass(frozen=True)
class StarterConfig:
    """Which questions make the starter adapter and how long it trains (saved as ``starter.json``).

    ``questions`` is per corpus, taken in order from its shuffled *stream* split; the LoRA run
    is capped at ``max_steps`` (about 10 s each on a 2-core CPU with batches of 4: 100 took 18 min) at
    ``learning_rate`` (higher than a cycle's default: a short run on many new rows), with
    examples cut at ``max_length`` tokens (the serving prompt of three sources fits in 512).
    """

    corpora: tuple[str, ...] = CORPORA
    questions: int = 200
    max_steps: int = 100
    learning_rate: float = 5e-4
    max_length: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.corpora) - set(CORPORA)
        if unknown or not self.corpora:
            raise ValueError(f"corpora must be some of {', '.join(CORPORA)} (got {', '.join(self.corpora)})")
        if self.questions < 1 or self.max_steps < 1:
            raise ValueError("questions and max_steps must be at least 1")
        if self.learning_rate <= 0 or self.max_length < 64:
            raise ValueError("learning_rate must be positive and max_length at least 64")


@dataclass
class StarterRows:
    """The training rows of one corpus and why the other questions were skipped."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def starter_questions(corpus: Corpus, config: StarterConfig) -> list[LabelledQuestion]:
    """The first ``config.questions`` of the corpus's *stream* split (never dev or test)."""
    return split(corpus.questions, seed=config.seed)["stream"][: config.questions]


def starter_rows(assistant: Assistant, questions: Sequence[LabelledQuestion]) -> StarterRows:
    """One prompt-completion row per question whose article is retrieved and whose reference passes.

    ``assistant`` serves the corpus's articles on its base release (no adapter).
    """
    settings = assistant.settings
    embedder = assistant.serving.embedder
    made = StarterRows()
    for item in questions:
        hits = assistant.search(item.question).hits[: settings.prompt_sources]
        numbers = [n for n, hit in enumerate(hits, 1) if hit.chunk.doc_id == item.doc_id]
        if not numbers:
            made.skipped["article not retrieved"] += 1
            continue
        # give_up=None: a reference that opens with three lines of filler still has its steps
        text = AnswerCheck.over(hits, item.question, give_up=None).judge_text(item.reference).strip()
        if not text:
            made.skipped["nothing of the reference passes the answer check"] += 1
            continue
        messages = serving_messages(item.question, hits, [], embedder, sentences=settings.prompt_sentences)
        completion = [{"role": "assistant", "content": f"{text} [{numbers[0]}]"}]
        made.rows.append({"prompt": messages, "completion": completion})
    return made


def train_starter(
    settings: Settings,
    out_dir: Path,
    config: StarterConfig | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Build the rows of every corpus in a scratch data home, train the adapter into ``out_dir``.

    ``settings`` name the generator, the prompt shape and the LoRA defaults (``ASSISTANT_LORA_*``);
    the model cache is shared, nothing else of the user's data home is touched. ``on_progress``
    hears every training step. Returns the report saved beside the adapter as ``starter.json``.
    """
    from datasets import Dataset, DatasetDict

    from assistant.generation.local import resolve_weights

    config = config or StarterConfig()
    rows: list[dict[str, Any]] = []
    per_corpus: dict[str, dict[str, Any]] = {}
    for corpus_name in config.corpora:
        with sandbox_home(settings.model_cache_dir) as home:
            corpus = load_corpus(corpus_name, home.parent)
            questions = starter_questions(corpus, config)
            scratch = settings.model_copy(update={"home": home, "database_url": "", "adapter": ""})
            store = Store(scratch.resolved_database_url)
            store.upgrade()
            assistant = Assistant(scratch, store, ReleaseRegistry(scratch.releases_dir))
            assistant.ingest([corpus.kb])
            made = starter_rows(assistant, questions)
            store.close()
        rows += made.rows
        per_corpus[corpus_name] = {
            "questions": len(questions),
            "rows": len(made.rows),
            "skipped": made.skipped,
        }
    if not rows:
        raise ValueError("no starter rows: no question's article was retrieved with a passing reference")
    random.Random(config.seed).shuffle(rows)
    lora = replace(
        LoraTrainingConfig.from_settings(settings),
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        max_length=config.max_length,
        seed=config.seed,
    )
    base = resolve_weights(settings.generator, settings.model_cache_dir)
    data = DatasetDict({"train": Dataset.from_list(rows)})
    result: TrainResult = train_sft(base, data, out_dir, lora, on_progress=on_progress)
    report = {
        "config": asdict(config),
        "generator": settings.generator,
        "prompt": {"sources": settings.prompt_sources, "sentences": settings.prompt_sentences},
        "corpora": per_corpus,
        "rows": len(rows),
        "steps": result.steps,
        "train_loss": result.train_loss,
        "seconds": round(result.seconds, 1),
    }
    (out_dir / STARTER_REPORT).write_text(json.dumps(report, indent=2, default=dict) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> None:
    """``python -m training.starter``: train the starter adapter and print its report."""
    import argparse

    from assistant.config import get_settings

    defaults = StarterConfig()
    parser = argparse.ArgumentParser(prog="python -m training.starter", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="Adapter folder (default: ASSISTANT_HOME/adapters/starter)."
    )
    parser.add_argument(
        "--corpora", default=",".join(defaults.corpora), help="Comma-separated: bitext, abcd."
    )
    parser.add_argument(
        "--questions", type=int, default=defaults.questions, help="Stream questions per corpus."
    )
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps, help="LoRA optimizer steps.")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--max-length", type=int, default=defaults.max_length, help="Tokens per example.")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        config = StarterConfig(
            corpora=tuple(c.strip() for c in args.corpora.split(",") if c.strip()),
            questions=args.questions,
            max_steps=args.max_steps,
            learning_rate=args.learning_rate,
            max_length=args.max_length,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    out_dir = args.out or default_starter_dir(settings)

    def show(progress: Progress) -> None:
        if progress.step % 10 == 0 or progress.step == progress.total_steps:
            eta = f", about {progress.eta_s / 60:.0f} min left" if progress.eta_s is not None else ""
            print(f"step {progress.step}/{progress.total_steps}{eta}", file=sys.stderr, flush=True)

    report = train_starter(settings, out_dir, config, on_progress=show)
    print(json.dumps(report, indent=2, default=dict))
    print(f"adapter: {out_dir}  (serve it with ASSISTANT_ADAPTER={out_dir})")


if __name__ == "__main__":
    main()
