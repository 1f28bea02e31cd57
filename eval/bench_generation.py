"""Generation speed and answer quality on CPU: the local paths against plain fp32 ``model.generate``.

Both run the same weights (the cached default model), the same realistic prompt (five demo
articles, each padded with related text to the prompt's per-source budget, ~600 tokens) and
the same thread count, greedy, exactly ``--new-tokens`` tokens. Time to first token (TTFT)
is ``generate(max_new_tokens=1)`` for the baseline and the first streamed piece for the
shipped path. Medians of ``--runs`` runs after one warm-up; the shipped path's system-prompt
KV cache is warm then, as in a running server (``ttft_cold_prefix_s`` shows it cold).

Two local paths are measured: ``fp32`` (lean greedy loop + cached system prompt; identical
greedy text to ``generate``) and ``int8`` (the same plus SmoothQuant int8 linear layers,
``ASSISTANT_QUANTIZE=true``). Answer quality is the mean embedding cosine between the answer
and Bitext's reference answer, over ``--quality-questions`` questions answered from the demo
knowledge base with the real retriever: a faster path only ships by default if this holds.

Run: ``python -m eval.bench_generation [--json] [--out FILE]``
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM

from assistant.config import DEFAULT_GENERATOR, Settings
from assistant.generation.local import LocalGenerator
from assistant.generation.prompts import build_messages
from assistant.ingest.loaders import load_file
from assistant.retrieval.embedder import Embedder
from assistant.retrieval.retriever import Retriever
from assistant.types import Chunk, Hit
from eval.bench_cli import emit, parse_args
from eval.bench_retrieval import demo_snapshot
from training.public_data import bitext_questions, demo_kb

QUESTION = "I ordered the wrong item yesterday. Can I still cancel the order, and will I be charged a fee?"
SOURCES = (  # each retrieved article, padded with related ones as a longer help-centre chunk would be
    ("cancel-order", "check-cancellation-fee", "get-refund"),
    ("check-cancellation-fee", "cancel-order", "check-refund-policy"),
    ("change-order", "place-order", "track-order"),
    ("get-refund", "track-refund", "check-refund-policy"),
    ("contact-customer-service", "contact-human-agent", "complaint"),
)


def benchmark_messages() -> list[dict[str, str]]:
    """The prompt both paths answer: five demo articles as retrieved sources."""
    kb = demo_kb()
    docs = {name: load_file(kb / f"{name}.md", kb)[0] for group in SOURCES for name in group}
    hits = []
    for rank, group in enumerate(SOURCES):
        first = docs[group[0]]
        text = " ".join(docs[name].text.split("\n", 1)[-1].strip() for name in group)
        hits.append(
            Hit(Chunk(f"{first.doc_id}#0", first.doc_id, first.title, first.source, text), 0.9 - rank / 10)
        )
    return build_messages(QUESTION, hits, [])


def _median_of(runs: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    measure()  # warm-up
    results = [measure() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def answer_quality(generator: LocalGenerator, questions: int) -> float:
    """Mean cosine of answers to Bitext references (questions the retriever is confident about)."""
    settings = Settings(_env_file=None)
    embedder = Embedder(settings.embedder)
    with tempfile.TemporaryDirectory() as home:
        retriever = Retriever(demo_snapshot(embedder, Path(home)), embedder)
    similarities = []
    for item in bitext_questions(questions, seed=3):
        found = retriever.search(item.question, settings.top_k)
        if found.confidence < settings.min_confidence:
            continue
        answer = generator.generate(build_messages(item.question, found.hits, []), max_new_tokens=96)
        vectors = embedder.encode([answer, item.reference])
        similarities.append(float(vectors[0] @ vectors[1]))
    return statistics.mean(similarities)


def run(cache_dir: Path, new_tokens: int, runs: int, threads: int, quality_questions: int) -> dict:
    torch.set_num_threads(threads)
    default = Settings(_env_file=None).quantize
    paths = {
        "fp32": LocalGenerator(DEFAULT_GENERATOR, cache_dir=cache_dir, quantize=False, num_threads=threads),
        "int8": LocalGenerator(DEFAULT_GENERATOR, cache_dir=cache_dir, quantize=True, num_threads=threads),
    }
    shipped_name = "int8" if default else "fp32"
    reference = paths["fp32"]
    baseline = AutoModelForCausalLM.from_pretrained(reference.source, dtype=torch.float32).eval()
    messages = benchmark_messages()
    tokenizer = reference.tokenizer
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    prompt_tokens = ids["input_ids"].shape[1]

    def baseline_once(n: int) -> tuple[float, torch.Tensor]:
        start = time.perf_counter()
        out = baseline.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        return time.perf_counter() - start, out[0, prompt_tokens:]

    def path_once(generator: LocalGenerator) -> tuple[float, float]:
        start = time.perf_counter()
        first = None
        for _ in generator.stream(messages, max_new_tokens=new_tokens, ignore_eos=True):
            first = first or time.perf_counter() - start
        return first or 0.0, time.perf_counter() - start

    base_ttft, base_total = _median_of(runs, lambda: (baseline_once(1)[0], baseline_once(new_tokens)[0]))
    base_text = tokenizer.decode(baseline_once(new_tokens)[1], skip_special_tokens=True)
    results = {}
    for name, generator in paths.items():
        ttft, total = _median_of(runs, lambda g=generator: path_once(g))
        generator._prefixes.clear()  # once more with the system-prompt KV cache cold
        results[name] = {
            "ttft_s": ttft,
            "total_s": total,
            "ttft_cold_prefix_s": path_once(generator)[0],
            "speedup_total": base_total / total,
            "ttft_ratio": ttft / base_ttft,
            "answer": generator.generate(messages, max_new_tokens=new_tokens),
            "answer_similarity": answer_quality(generator, quality_questions),
        }
    return {
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "threads": threads,
        "runs": runs,
        "quality_questions": quality_questions,
        "baseline": {"ttft_s": base_ttft, "total_s": base_total, "answer": base_text},
        "paths": results,
        "shipped_path": shipped_name,
        "shipped": results[shipped_name],
        "speedup_total": results[shipped_name]["speedup_total"],
        "ttft_ratio": results[shipped_name]["ttft_ratio"],
    }


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--new-tokens": {"type": int, "default": 64},
            "--runs": {"type": int, "default": 3},
            "--threads": {"type": int, "default": torch.get_num_threads()},
            "--cache-dir": {"type": Path, "help": "model cache (default: the data home's)"},
            "--quality-questions": {"type": int, "default": 20},
        },
    )
    cache_dir = args.cache_dir or Settings().model_cache_dir
    report = run(cache_dir, args.new_tokens, args.runs, args.threads, args.quality_questions)
    if not emit(report, args):
        return
    b = report["baseline"]
    print(
        f"{report['prompt_tokens']}-token prompt, {report['new_tokens']} new tokens, "
        f"{report['threads']} threads; shipped by default: {report['shipped_path']}"
    )
    print("| path | TTFT | total | speed-up | TTFT ratio | answer similarity |\n|---|---|---|---|---|---|")
    print(f"| baseline: fp32 `generate` | {b['ttft_s']:.3f} s | {b['total_s']:.2f} s | 1.00x | 1.00 | |")
    for name, p in report["paths"].items():
        print(
            f"| {name} | {p['ttft_s']:.3f} s | {p['total_s']:.2f} s | {p['speedup_total']:.2f}x | "
            f"{p['ttft_ratio']:.2f} | {p['answer_similarity']:.3f} |"
        )


if __name__ == "__main__":
    main()
