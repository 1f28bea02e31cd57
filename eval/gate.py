"""The release gate: evaluate a candidate and the current release on the same sets, then decide.

Sets: the ``dev`` split held out from the conversation log (a dataset build's ``pairs`` and
``sft`` dev rows), the ``golden`` set leads maintain (CSV or JSONL: ``question``, ``doc_ids``
and/or ``answer``), and out-of-scope questions (CLINC150, shipped in ``eval/data``).

Metrics, per set: retrieval ``hit@1``, ``recall@5`` and ``mrr`` (ranx); for answers, similarity
to the reference (embedding cosine), the share with valid citations, and the share answered;
``oos.abstention``, the share of out-of-scope questions declined. Every metric is "higher is
better". :func:`decide` passes a candidate when it meets every floor and no metric is worse
than the current release's by more than ``max_drop`` *and* by more than sampling noise explains
(twice the standard error of the paired per-question differences: on 8 answered questions one
answer more declined moves a share by 0.125, which says little). Optionally, no golden
question's answer may move more than ``max_answer_drop`` further from its reference: a mean can
hide one answer turned wrong (a poisoned log teaching a planted answer) while others improve.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval.metrics import retrieval_per_query

if TYPE_CHECKING:
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseManifest
    from assistant.retrieval.retriever import Retriever

OUT_OF_SCOPE = Path(__file__).parent / "data" / "clinc150_out_of_scope.jsonl"
RETRIEVAL_K = 10
GATED_RETRIEVAL = ("hit@1", "recall@5", "mrr")
NOISE_Z = 2.0  # a drop must exceed this many standard errors of the paired differences to count


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


@dataclass(frozen=True)
class ReleaseScores:
    """What the gate measured of one release: its metrics, and per golden question how close
    its answer came to the reference (cosine)."""

    metrics: dict[str, float]
    golden_answers: dict[str, float] = field(default_factory=dict)
    per_question: dict[str, list[float]] = field(default_factory=dict)  # metric -> value per question


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]


# --- the sets ----------------------------------------------------------------------------------


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


# --- evaluating one release --------------------------------------------------------------------


def retrieval_per_item(retriever: Retriever, items: Sequence[EvalItem]) -> dict[str, list[float]]:
    """hit@1, recall@5, MRR and nDCG@10 of ``retriever`` on each of ``items`` (with ``doc_ids``), in order."""
    qrels = {f"q{i:07d}": {doc: 1 for doc in item.doc_ids} for i, item in enumerate(items)}
    run = {}
    for i, item in enumerate(items):
        hits = retriever.search(item.question, RETRIEVAL_K).hits
        run[f"q{i:07d}"] = {hit.chunk.doc_id: hit.score for hit in hits}
    return retrieval_per_query(qrels, run)


def retrieval_scores(retriever: Retriever, items: Sequence[EvalItem]) -> dict[str, float]:
    """hit@1, recall@5, MRR and nDCG@10 of ``retriever`` on ``items``, averaged."""
    return {name: float(np.mean(values)) for name, values in retrieval_per_item(retriever, items).items()}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)  # the embedder's vectors are unit length


def evaluate_release(
    assistant: Assistant, release: ReleaseManifest | None, sets: EvalSets, *, answer_samples: int
) -> ReleaseScores:
    """Every gate metric of ``release``; nothing is logged, curated answers are not used."""
    from assistant.pipeline import abstains

    serving = assistant.serving_for(release)
    per_question: dict[str, list[float]] = {}
    golden_answers: dict[str, float] = {}
    for name, items in (("dev", sets.dev), ("golden", sets.golden)):
        with_docs = [item for item in items if item.doc_ids]
        if with_docs:
            scores = retrieval_per_item(serving.retriever, with_docs)
            per_question.update({f"{name}.{key}": scores[key] for key in GATED_RETRIEVAL})
        with_answers = [item for item in items if item.answer][:answer_samples]
        if with_answers:
            drafts = [assistant.answer_unlogged(item.question, release=release) for item in with_answers]
            documents = serving.retriever.snapshot.documents
            vectors = assistant.embedder.encode([draft.text for draft in drafts])
            references = assistant.embedder.encode([item.answer for item in with_answers])
            similarity = [float(value) for value in _cosine(vectors, references)]
            per_question[f"{name}.answer_similarity"] = similarity
            per_question[f"{name}.citations_valid"] = [
                float(all(c.doc_id in documents for c in draft.citations)) for draft in drafts
            ]
            per_question[f"{name}.answered"] = [float(not draft.abstained) for draft in drafts]
            if name == "golden":
                golden_answers = {
                    item.question: round(value, 4)
                    for item, value in zip(with_answers, similarity, strict=True)
                }
    if sets.out_of_scope:
        per_question["oos.abstention"] = [
            float(
                abstains(
                    serving.retriever.search(q, assistant.settings.top_k), assistant.settings.min_confidence
                )
            )
            for q in sets.out_of_scope
        ]
    metrics = {name: round(float(np.mean(values)), 4) for name, values in per_question.items()}
    return ReleaseScores(metrics, golden_answers, per_question)


def paired_noise(candidate: Sequence[float], current: Sequence[float]) -> float:
    """``NOISE_Z`` standard errors of the mean per-question difference (0 without two pairs)."""
    if len(candidate) != len(current) or len(candidate) < 2:
        return 0.0
    differences = np.asarray(candidate) - np.asarray(current)
    return NOISE_Z * float(np.std(differences, ddof=1)) / math.sqrt(len(differences))


# --- deciding ----------------------------------------------------------------------------------


IN_SCOPE = ("dev.", "golden.")  # the sets of questions the knowledge base should answer


def decide(
    candidate: ReleaseScores,
    current: ReleaseScores | None,
    *,
    floors: dict[str, float],
    max_drop: float,
    max_answer_drop: float | None = None,
) -> Verdict:
    """Pass when something in scope was measured, every floor is met, no metric fell below
    ``current`` by more than ``max_drop`` and the sampling noise, and (when ``max_answer_drop``
    is set) no golden answer's similarity to its reference fell more than ``max_answer_drop``."""
    reasons = []
    if not any(metric.startswith(IN_SCOPE) for metric in candidate.metrics):
        # out-of-scope abstention alone says nothing about the answers customers came for
        reasons.append(
            "nothing in scope was measured: no dev questions and no golden set "
            "(set ASSISTANT_GOLDEN_SET, or activate by hand with `assistant flywheel promote`)"
        )
    for metric, floor in sorted(floors.items()):
        value = candidate.metrics.get(metric)
        if value is None:
            reasons.append(f"{metric} was not measured (floor {floor})")
        elif value < floor:
            reasons.append(f"{metric} {value:.3f} is below the floor {floor:.3f}")
    previous = current or ReleaseScores({})
    for metric, before in sorted(previous.metrics.items()):
        after = candidate.metrics.get(metric)
        if after is None or after >= before - max_drop:
            continue
        noise = paired_noise(candidate.per_question.get(metric, []), previous.per_question.get(metric, []))
        if before - after > noise:
            allowed = f"more than {max_drop:.3f}" + (f" and the noise, {noise:.3f}" if noise else "")
            reasons.append(f"{metric} fell from {before:.3f} to {after:.3f} ({allowed})")
    for question, before in previous.golden_answers.items() if max_answer_drop is not None else ():
        after = candidate.golden_answers.get(question)
        if after is not None and after < before - max_answer_drop:
            reasons.append(
                f"golden answer to {question!r} moved away from its reference: similarity "
                f"{before:.3f} -> {after:.3f} (more than {max_answer_drop:.3f})"
            )
    return Verdict(passed=not reasons, reasons=reasons)


def gate_report(
    *,
    candidate_id: str,
    current_id: str | None,
    candidate: ReleaseScores,
    current: ReleaseScores | None,
    verdict: Verdict,
    sets: EvalSets,
    floors: dict[str, float],
    max_drop: float,
    max_answer_drop: float | None,
) -> dict[str, Any]:
    """The report stored with the run and the release: per metric both values, the verdict and why."""
    before = current or ReleaseScores({})

    def pairs(now: dict[str, float], then: dict[str, float]) -> dict[str, dict[str, float | None]]:
        return {
            key: {"candidate": now.get(key), "current": then.get(key)} for key in sorted(set(now) | set(then))
        }

    return {
        "candidate": candidate_id,
        "current": current_id,
        "verdict": "passed" if verdict.passed else "failed",
        "reasons": verdict.reasons,
        "metrics": pairs(candidate.metrics, before.metrics),
        "golden_answers": pairs(candidate.golden_answers, before.golden_answers),
        "sets": sets.sizes(),
        "floors": floors,
        "max_drop": max_drop,
        "max_answer_drop": max_answer_drop,
    }


def report_table(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows (metric, current, candidate, change) for printing a report."""
    rows = []
    for name, pair in report["metrics"].items():
        cur, cand = pair["current"], pair["candidate"]
        change = f"{cand - cur:+.3f}" if cur is not None and cand is not None else ""
        rows.append(
            (name, "" if cur is None else f"{cur:.3f}", "" if cand is None else f"{cand:.3f}", change)
        )
    return rows
