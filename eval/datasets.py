"""Loaders for the public support data in ``../shared/data`` (see its README for licences)."""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """``$ASSISTANT_SHARED_DATA``, else ``../shared/data`` beside the project."""
    folder = Path(os.environ.get("ASSISTANT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not folder.is_dir():
        raise FileNotFoundError(f"shared data not found at {folder} (set ASSISTANT_SHARED_DATA)")
    return folder


@dataclass(frozen=True)
class LabelledQuestion:
    """A customer question with the document that answers it and, if known, a reference answer."""

    question: str
    doc_id: str
    reference: str = ""


def bitext_questions(limit: int | None = None, *, seed: int = 0) -> list[LabelledQuestion]:
    """Bitext customer questions; ``doc_id`` is the intent, which is the demo article's id."""
    with (shared_data() / "bitext" / "questions_canonical.csv").open(encoding="utf-8") as handle:
        rows = [
            LabelledQuestion(r["instruction"], r["intent"], r["response"]) for r in csv.DictReader(handle)
        ]
    random.Random(seed).shuffle(rows)
    return rows[:limit] if limit else rows


def out_of_scope_questions(limit: int | None = None) -> list[str]:
    """CLINC150 questions that no support article answers."""
    with (shared_data() / "clinc150_oos" / "out_of_scope.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["query"] for line in handle if line.strip()]
    return queries[:limit] if limit else queries


def demo_kb() -> Path:
    """The shipped demo knowledge base (Bitext's 27 articles as Markdown pages)."""
    return PROJECT_ROOT / "demo" / "kb"
