"""Retrieval quality on real data and retrieval speed at scale.

Quality: the Bitext questions against the demo knowledge base (its 27 articles, ingested by
the real ingest path), for dense, lexical and hybrid search: hit@1, recall@5, MRR (ranx), and
how one confidence threshold separates in-scope questions from CLINC150 out-of-scope ones.

Speed: p50/p95 of query embedding + search over 1k, 10k and 100k chunks. The chunk texts are
synthetic (sampled from Bitext words) and their vectors random unit vectors: scale is what is
measured, and the query embedding is real.

Run: ``python -m eval.bench_retrieval [--questions 1500] [--json] [--out FILE]``
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.ingest.runner import ingest_paths
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.store import Store
from assistant.types import Chunk
from eval.bench_cli import emit, parse_args
from training.gate.metrics import retrieval_metrics
from training.public_data import bitext_questions, demo_kb, out_of_scope_questions

MODES = ("dense", "lexical", "hybrid")


def demo_snapshot(embedder: Embedder, home: Path) -> IndexSnapshot:
    settings = Settings(home=home, _env_file=None)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    registry = ReleaseRegistry(settings.releases_dir)
    ingest_paths([demo_kb()], settings=settings, store=store, registry=registry, embedder=embedder)
    return IndexSnapshot.load(registry.path(registry.current_id()))


def quality(embedder: Embedder, snapshot: IndexSnapshot, questions: int, settings: Settings) -> dict:
    labelled = bitext_questions(questions)
    outside = out_of_scope_questions(500)
    results = {}
    for mode in MODES:
        retriever = Retriever(snapshot, embedder, mode=mode, lexical_weight=settings.lexical_weight)
        run, confidences = {}, []
        for number, item in enumerate(labelled):
            found = retriever.search(item.question, 10)
            run[f"q{number}"] = {h.chunk.doc_id: h.score for h in found.hits}
            confidences.append(found.confidence)
        qrels = {f"q{n}": {item.doc_id: 1} for n, item in enumerate(labelled)}
        oos = [retriever.search(q, 5).confidence for q in outside]
        threshold = settings.min_confidence
        results[mode] = {
            **retrieval_metrics(qrels, run),
            "answered_in_scope": float(np.mean(np.array(confidences) >= threshold)),
            "abstained_out_of_scope": float(np.mean(np.array(oos) < threshold)),
        }
    return {
        "questions": len(labelled),
        "out_of_scope": len(outside),
        "min_confidence": settings.min_confidence,
        "lexical_weight": settings.lexical_weight,
        "modes": results,
    }


def speed(embedder: Embedder, sizes: list[int], queries: int = 200, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    words = " ".join(q.question for q in bitext_questions(3000)).split()
    texts = [q.question for q in bitext_questions(queries, seed=seed + 1)]
    results = {}
    for size in sizes:
        picks = rng.integers(0, len(words), size=(size, 40))
        chunks = [
            Chunk(f"doc{i}#0", f"doc{i}", f"Doc {i}", f"doc{i}", " ".join(words[j] for j in row))
            for i, row in enumerate(picks)
        ]
        vectors = rng.standard_normal((size, embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        per_mode = {}
        for label, mode, index_type in (
            ("dense", "dense", "flat"),
            ("hybrid", "hybrid", "flat"),
            ("hnsw", "dense", "hnsw"),
        ):
            snapshot = IndexSnapshot.build(chunks, vectors, embedder=embedder.model_id, index_type=index_type)
            retriever = Retriever(snapshot, embedder, mode=mode)
            for text in texts[:10]:
                retriever.search(text, 5)
            timings = []
            for text in texts:
                started = time.perf_counter()
                retriever.search(text, 5)
                timings.append((time.perf_counter() - started) * 1000)
            per_mode[label] = {
                "p50_ms": float(np.percentile(timings, 50)),
                "p95_ms": float(np.percentile(timings, 95)),
            }
        results[str(size)] = per_mode
    return results


def main() -> None:
    args = parse_args(
        __doc__,
        {"--questions": {"type": int, "default": 1500}, "--sizes": {"default": "1000,10000,100000"}},
    )
    random.seed(0)
    settings = Settings(_env_file=None)
    embedder = Embedder(settings.embedder)
    with tempfile.TemporaryDirectory() as home:
        snapshot = demo_snapshot(embedder, Path(home))
    report = {
        "quality": quality(embedder, snapshot, args.questions, settings),
        "speed": speed(embedder, [int(s) for s in args.sizes.split(",")]),
    }
    if not emit(report, args):
        return
    print(f"Bitext, {report['quality']['questions']} questions vs {len(snapshot.documents)} articles")
    print("| mode | hit@1 | recall@5 | MRR | in-scope answered | out-of-scope abstained |")
    print("|---|---|---|---|---|---|")
    for mode, m in report["quality"]["modes"].items():
        print(
            f"| {mode} | {m['hit@1']:.3f} | {m['recall@5']:.3f} | {m['mrr']:.3f} | "
            f"{m['answered_in_scope']:.3f} | {m['abstained_out_of_scope']:.3f} |"
        )
    print("\n| chunks | mode | p50 ms | p95 ms |\n|---|---|---|---|")
    for size, modes in report["speed"].items():
        for mode, t in modes.items():
            print(f"| {size} | {mode} | {t['p50_ms']:.1f} | {t['p95_ms']:.1f} |")


if __name__ == "__main__":
    main()
