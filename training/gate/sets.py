"""The questions a release is judged on: the log's dev split, the leads' golden set, out-of-scope.

``dev``: held out from the conversation log (a dataset build's ``pairs`` and ``sft`` dev rows);
``golden``: the set leads maintain (CSV or JSONL: ``question``, ``doc_ids`` and/or ``answer``);
out-of-scope: CLINC150's questions no support article answers (shipped in ``training/gate/data``,
CC BY 3.0, see ``data/ATTRIBUTION.md``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

OUT_OF_SCOPE = Path(__file__).parent / "data" / "clinc150_out_of_scope.jsonl"


class GoldenSetError(ValueError):
    """A golden set file that cannot be read; the message names the line."""


@dataclass(frozen=True)
class EvalItem:
    """A question with what a right answer looks like: the documents, a reference answer, or both."""

    question: str
    doc_ids: tuple[str, ...] = ()
    answer: str = ""


@dataclass(frozen=True)
class EvalSets:
    dev: list[EvalItem] = field(default_factory=list)
    golden: list[EvalItem] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {"dev": len(self.dev), "golden": len(self.golden), "oos": len(self.out_of_scope)}


def load_golden(path: Path) -> list[EvalItem]:
    """A leads' golden set: CSV (header row) or JSONL with ``question`` and ``doc_ids`` and/or ``answer``.

    ``doc_ids`` is a list (JSONL) or space-separated (CSV); ``doc_id`` is accepted for one.
    """
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise GoldenSetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    else:
        rows = list(enumerate(csv.DictReader(io.StringIO(text)), start=2))
    items = []
    for number, row in rows:
        if not isinstance(row, dict):
            raise GoldenSetError(f"{path}:{number}: expected an object with a question")
        question = str(row.get("question") or "").strip()
        raw = row.get("doc_ids", row.get("doc_id")) or []
        doc_ids = tuple(raw.split() if isinstance(raw, str) else map(str, raw))
        answer = str(row.get("answer") or "").strip()
        if not question:
            raise GoldenSetError(f"{path}:{number}: the question is empty")
        if not doc_ids and not answer:
            raise GoldenSetError(f"{path}:{number}: give doc_ids and/or an answer to check against")
        items.append(EvalItem(question, doc_ids, answer))
    return items


def dev_items(dataset_path: Path) -> list[EvalItem]:
    """The dev split of a dataset build: questions with their document and reference answer."""
    from datasets import load_from_disk

    answers: dict[str, str] = {}
    sft = dataset_path / "sft"
    if sft.is_dir():
        for row in load_from_disk(str(sft))["dev"]:
            answers[row["interaction_id"]] = row["completion"][-1]["content"]
    items = []
    pairs = dataset_path / "pairs"
    if pairs.is_dir():
        for row in load_from_disk(str(pairs))["dev"]:
            doc_id = row["positive_chunk_id"].rsplit("#", 1)[0]
            items.append(EvalItem(row["anchor"], (doc_id,), answers.pop(row["interaction_id"], "")))
    return items


def out_of_scope(limit: int | None = None) -> list[str]:
    """CLINC150's out-of-scope questions (shipped with the package)."""
    with OUT_OF_SCOPE.open(encoding="utf-8") as handle:
        queries = [json.loads(line)["query"] for line in handle if line.strip()]
    return queries[:limit] if limit else queries
