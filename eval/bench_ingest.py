"""Ingest throughput against raw ``SentenceTransformer.encode`` of the same chunks, and the
cost of re-ingesting an unchanged corpus, both measured in the same run.

The corpus is Bitext's long-form agent answers written out as Markdown help pages.

Run: ``python -m eval.bench_ingest [--docs 600] [--json] [--out FILE]``
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

from assistant.config import Settings
from assistant.ingest.runner import EMBED_BATCH, ingest_paths
from assistant.releases import ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.snapshot import IndexSnapshot
from assistant.store import Store
from eval.bench_cli import emit, parse_args
from training.public_data import shared_data


def write_corpus(folder: Path, count: int) -> None:
    with (shared_data() / "bitext" / "questions_varied_responses.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:count]
    for number, row in enumerate(rows):
        page = folder / row["intent"] / f"{number:05d}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f"# {row['instruction'].strip().capitalize()}\n\n{row['response']}\n", encoding="utf-8"
        )


def run(docs: int) -> dict:
    settings = Settings(_env_file=None)
    embedder = Embedder(settings.embedder)
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        corpus = work_path / "kb"
        write_corpus(corpus, docs)
        settings = Settings(home=work_path / "home", _env_file=None)
        store = Store(settings.resolved_database_url)
        store.upgrade()
        registry = ReleaseRegistry(settings.releases_dir)

        def ingest():
            return ingest_paths(
                [corpus], settings=settings, store=store, registry=registry, embedder=embedder
            )

        embedder.encode(["warm up"] * 8)
        started = time.perf_counter()
        first = ingest()
        first_s = time.perf_counter() - started

        texts = [c.text for c in IndexSnapshot.load(registry.path(registry.current_id())).chunks]
        started = time.perf_counter()
        embedder._model.encode(
            texts, batch_size=EMBED_BATCH, normalize_embeddings=True, show_progress_bar=False
        )
        raw_s = time.perf_counter() - started

        started = time.perf_counter()
        again = ingest()
        again_s = time.perf_counter() - started
    assert again.chunks_embedded == 0 and again.release is None
    return {
        "documents": first.documents,
        "chunks": first.chunks,
        "ingest_s": first_s,
        "raw_encode_s": raw_s,
        "ingest_chunks_per_s": first.chunks / first_s,
        "raw_encode_chunks_per_s": len(texts) / raw_s,
        "throughput_ratio": (first.chunks / first_s) / (len(texts) / raw_s),
        "reingest_unchanged_s": again_s,
        "reingest_ratio": again_s / first_s,
    }


def main() -> None:
    args = parse_args(__doc__, {"--docs": {"type": int, "default": 600}})
    report = run(args.docs)
    if not emit(report, args):
        return
    print(f"{report['documents']} documents, {report['chunks']} chunks")
    print("| measure | value |\n|---|---|")
    print(f"| ingest | {report['ingest_chunks_per_s']:.1f} chunks/s ({report['ingest_s']:.1f} s) |")
    print(f"| raw encode, same chunks | {report['raw_encode_chunks_per_s']:.1f} chunks/s |")
    print(f"| ingest / raw encode | {report['throughput_ratio']:.2f}x |")
    print(
        f"| re-ingest unchanged | {report['reingest_unchanged_s']:.2f} s"
        f" = {report['reingest_ratio']:.1%} of first |"
    )


if __name__ == "__main__":
    main()
