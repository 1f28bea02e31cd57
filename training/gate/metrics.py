"""Retrieval metrics computed with ranx (the standard, tested implementations)."""

from __future__ import annotations

import numpy as np
from ranx import Qrels, Run, evaluate

RETRIEVAL_METRICS = {"hit@1": "hit_rate@1", "recall@5": "recall@5", "mrr": "mrr", "ndcg@10": "ndcg@10"}


def retrieval_per_query(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]
) -> dict[str, list[float]]:
    """hit@1, recall@5, MRR and nDCG@10 of each query of ``run`` (query -> doc -> score), in the
    sorted order of the query ids; for paired comparisons of two runs on the same queries."""
    # ranx refuses queries without any retrieved document; give them an impossible one
    run = {q: docs or {"__none__": 0.0} for q, docs in run.items()}
    scores = evaluate(
        Qrels(qrels), Run(run), list(RETRIEVAL_METRICS.values()), make_comparable=True, return_mean=False
    )
    return {name: [float(v) for v in scores[metric]] for name, metric in RETRIEVAL_METRICS.items()}


def retrieval_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """hit@1, recall@5, MRR and nDCG@10 of ``run`` against ``qrels``, averaged over the queries."""
    return {name: float(np.mean(values)) for name, values in retrieval_per_query(qrels, run).items()}
