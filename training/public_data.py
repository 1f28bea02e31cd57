"""The public support data in ``../shared/data`` (see its README for licences): loaders, the
corpora (a help centre plus labelled questions), their leak-free split, and a scratch data home.

Training uses it for the starter adapter (:mod:`training.starter`, the *stream* split only);
the evaluation for its benchmarks and the flywheel simulation (whose held-out *test* split
never reaches any training data).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import PROJECT_ROOT


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


# --- the corpora ------------------------------------------------------------------------------

CORPORA = ("bitext", "abcd")
SPLITS = {"stream": 0.6, "dev": 0.1, "test": 0.3}


@dataclass(frozen=True)
class Corpus:
    """A knowledge-base folder and labelled questions whose ``doc_id`` is an article of it."""

    name: str
    kb: Path
    questions: list[LabelledQuestion]


def load_corpus(name: str, work: Path) -> Corpus:
    """``bitext`` (the demo help centre, 27 articles) or ``abcd`` (55 procedures, written to ``work``)."""
    if name == "bitext":
        return Corpus(name, demo_kb(), bitext_questions())
    if name == "abcd":
        return Corpus(name, write_articles(abcd_articles(), work / "abcd-kb"), abcd_questions())
    raise ValueError(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")


# --- the split --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
_WITH_DIGIT = re.compile(r"\S*\d\S*")
_NAME = re.compile(r"(?<=\s)(?!I\b)[A-Z][\w'.-]*")  # a capitalised word after the first, but "I"


def near_duplicate_key(question: str) -> str:
    """The question with placeholders, anything holding a digit and names masked, lowercased.

    Questions that differ only by an order number or a name share a key, so they land in the
    same split (else the test set leaks into training).
    """
    text = _PLACEHOLDER.sub(" # ", question)
    text = _WITH_DIGIT.sub(" # ", text)
    text = _NAME.sub(" @name ", text)
    return " ".join(re.findall(r"[a-z#@]+", text.lower()))


def split(questions: Sequence[LabelledQuestion], *, seed: int = 0) -> dict[str, list[LabelledQuestion]]:
    """Stream / dev / test by a stable hash of each near-duplicate group, then shuffled."""
    parts: dict[str, list[LabelledQuestion]] = {name: [] for name in SPLITS}
    bounds = np.cumsum(list(SPLITS.values()))
    for item in questions:
        digest = hashlib.sha256(f"{seed}:{near_duplicate_key(item.question)}".encode()).digest()
        position = int.from_bytes(digest[:8], "big") / 2**64
        name = list(SPLITS)[int(np.searchsorted(bounds, position, side="right"))]
        parts[name].append(item)
    for number, items in enumerate(parts.values()):
        random.Random(seed * 31 + number).shuffle(items)
    return parts


@contextmanager
def sandbox_home(model_cache: Path, work: Path | None = None) -> Iterator[Path]:
    """A fresh data home (its own store and releases) sharing ``model_cache``, for simulations.

    The converted models are reused (conversion is one-off); nothing of the user's data home is
    read or written. ``work`` keeps the home afterwards; by default it is a temporary folder.
    """
    with tempfile.TemporaryDirectory() as scratch:
        home = (work or Path(scratch)) / "home"
        home.mkdir(parents=True)
        model_cache = model_cache.resolve()
        model_cache.mkdir(parents=True, exist_ok=True)
        (home / "models").symlink_to(model_cache, target_is_directory=True)
        yield home
