"""Loaders for the public support data in ``../shared/data`` (see its README for licences)."""

from __future__ import annotations

import csv
import json
import os
import random
import re
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


@dataclass(frozen=True)
class Article:
    """One help-centre page made from a data set: its id (the file's stem), title and body."""

    doc_id: str
    title: str
    text: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def abcd_articles() -> list[Article]:
    """ABCD's 55 procedures (MIT), one article per subflow: the flow, its instructions and steps."""
    guidelines = json.loads((shared_data() / "abcd" / "guidelines.json").read_text(encoding="utf-8"))
    articles = []
    for flow, body in guidelines.items():
        for subflow, content in body["subflows"].items():
            lines = [f"{flow}: {body['description']}.", *content["instructions"]]
            for action in content["actions"]:
                lines.append(f"- {action['text'].strip()}")
                lines.extend(f"  - {sub.strip()}" for sub in action["subtext"])
            articles.append(Article(_slug(subflow), f"{subflow} ({flow})", "\n".join(lines)))
    return articles


def write_articles(articles: list[Article], folder: Path) -> Path:
    """Write ``articles`` as Markdown pages named ``<doc_id>.md`` (what ingestion reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    for article in articles:
        page = f"---\nid: {article.doc_id}\n---\n# {article.title}\n\n{article.text}\n"
        (folder / f"{article.doc_id}.md").write_text(page, encoding="utf-8")
    return folder


ABCD_QUESTIONS = PROJECT_ROOT / "eval" / "data" / "abcd_questions.jsonl"


def abcd_questions() -> list[LabelledQuestion]:
    """Customer questions written for the ABCD procedures (``eval/data/abcd_questions.jsonl``)."""
    with ABCD_QUESTIONS.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [LabelledQuestion(r["question"], r["doc_id"], r["reference"]) for r in rows]
