"""The evaluation harness: every metric of one release on a labelled set, and its report folder.

Use :func:`measure` to see what customers would get from the active (or any) release on
questions with known answers: retrieval (hit@1, recall@5, MRR, nDCG@10 via ranx), the answers
(similarity to the reference by embedding cosine and ROUGE-L, valid citations; loops, refusals
of a question whose article was retrieved, and answers the answer check replaced), what is served
(curated answers matched, questions answered, simulated resolution) and abstention on
out-of-scope questions, plus latency percentiles. Nothing is logged. :func:`write_report`
writes one folder per run (``report.json``, ``report.md``, plots) with the settings and release
ids used, so a run can be repeated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rouge_score import rouge_scorer

from training.gate import EvalItem, retrieval_scores
from training.gate.metrics import RETRIEVAL_METRICS

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.pipeline import Assistant

SECRET_SETTINGS = ("remote_api_key", "slack_bot_token", "slack_app_token", "slack_signing_secret")


def rouge_l(candidates: Sequence[str], references: Sequence[str]) -> list[float]:
    """ROUGE-L F1 of each candidate against its reference (stemmed, Google's implementation)."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [
        scorer.score(ref, cand)["rougeL"].fmeasure for cand, ref in zip(candidates, references, strict=True)
    ]


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def measure(
    assistant: Assistant,
    items: Sequence[EvalItem],
    out_of_scope: Sequence[str] = (),
    *,
    answer_samples: int = 20,
    resolve_similarity: float = 0.5,
) -> dict[str, float | None]:
    """All metrics of the active release on ``items`` (and ``out_of_scope``); nothing is logged.

    An item counts as *resolved* when what a customer would be served (the curated answer when
    one matches, else the generated one) cites the right document first and is at least
    ``resolve_similarity`` similar to the reference: the simulated customer's rule.
    """
    from assistant.generation.answer_check import is_degenerate, is_refusal
    from assistant.retrieval.abstention import abstains

    settings = assistant.settings
    serving = assistant.serving
    release = assistant.registry.current()
    embedder = assistant.embedder
    metrics: dict[str, float | None] = {}

    labelled = [item for item in items if item.doc_ids]
    if labelled:
        scores = retrieval_scores(serving.retriever, labelled)
        metrics.update({name: round(scores[name], 4) for name in RETRIEVAL_METRICS})

    def served_without_generation(question: str):
        """(curated match or None, abstains) for ``question``, as :meth:`Assistant.ask` decides."""
        curated = assistant.curated.match(embedder.encode_query(question), settings.curated_min_similarity)
        declined = curated is None and abstains(
            serving.retriever.search(question, settings.top_k), settings.min_confidence
        )
        return curated, declined

    decisions = [served_without_generation(item.question) for item in items]
    if items:
        metrics["answered"] = round(float(np.mean([not declined for _, declined in decisions])), 4)
        metrics["curated_hits"] = round(float(np.mean([c is not None for c, _ in decisions])), 4)
    if out_of_scope:
        metrics["oos.abstention"] = round(
            float(np.mean([served_without_generation(q)[1] for q in out_of_scope])), 4
        )

    sampled = [(item, decision) for item, decision in zip(items, decisions, strict=True) if item.answer][
        :answer_samples
    ]
    if sampled:
        drafts = [assistant.answer_unlogged(item.question, release=release) for item, _ in sampled]
        references = [item.answer for item, _ in sampled]
        generated = [draft.text for draft in drafts]
        served, served_docs = [], []
        for (_item, (curated, declined)), draft in zip(sampled, drafts, strict=True):
            if curated is not None:
                served.append(curated.answer)
                served_docs.append(curated.doc_ids[:1])
            else:
                served.append("" if declined else draft.text)
                served_docs.append([] if declined else [c.doc_id for c in draft.citations[:1]])
        reference_vectors = embedder.encode(references)
        similarity = np.sum(embedder.encode(generated) * reference_vectors, axis=1)
        served_similarity = np.sum(embedder.encode(served) * reference_vectors, axis=1)
        documents = serving.retriever.snapshot.documents
        metrics["answer_similarity"] = round(float(np.mean(similarity)), 4)
        metrics["answer_rouge_l"] = round(float(np.mean(rouge_l(generated, references))), 4)
        covered = [
            bool({h.chunk.doc_id for h in d.result.hits} & set(item.doc_ids))
            for (item, _), d in zip(sampled, drafts, strict=True)
        ]
        metrics["answer_degenerate"] = round(float(np.mean([is_degenerate(text) for text in generated])), 4)
        metrics["answer_refused_covered"] = round(
            float(np.mean([c and is_refusal(text) for c, text in zip(covered, generated, strict=True)])), 4
        )
        metrics["answer_fallback"] = round(float(np.mean([bool(d.fallback) for d in drafts])), 4)
        metrics["citations_valid"] = round(
            float(np.mean([all(c.doc_id in documents for c in d.citations) for d in drafts])), 4
        )
        metrics["resolution"] = round(
            float(
                np.mean(
                    [
                        bool(docs) and docs[0] in item.doc_ids and sim >= resolve_similarity
                        for (item, _), docs, sim in zip(sampled, served_docs, served_similarity, strict=True)
                    ]
                )
            ),
            4,
        )
        generated_latency = [d.latency for d in drafts if not d.abstained]
        metrics["first_token_ms.p50"] = percentile([lat["first_token"] for lat in generated_latency], 50)
        metrics["first_token_ms.p95"] = percentile([lat["first_token"] for lat in generated_latency], 95)
        metrics["total_ms.p50"] = percentile([lat["total"] for lat in generated_latency], 50)
        metrics["total_ms.p95"] = percentile([lat["total"] for lat in generated_latency], 95)
    return metrics


def metrics_markdown(metrics: dict[str, float | None]) -> str:
    """A two-column Markdown table of ``metrics``."""
    rows = [f"| {name} | {'' if value is None else value} |" for name, value in metrics.items()]
    return "\n".join(["| metric | value |", "|---|---|", *rows])


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings a report states (secrets left out), JSON-ready."""
    data = settings.model_dump(mode="json")
    return {key: value for key, value in data.items() if key not in SECRET_SETTINGS}


def write_report(folder: Path, report: dict[str, Any], markdown: str) -> Path:
    """Write ``report.json`` and ``report.md`` into ``folder`` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (folder / "report.md").write_text(markdown)
    return folder
