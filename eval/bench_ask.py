"""``ask`` end to end on the demo knowledge base with the real models: latency breakdown
(retrieve, prompt, first token, total) and the process's peak memory.

Run: ``python -m eval.bench_ask [--questions 12] [--json] [--out FILE]``
"""

from __future__ import annotations

import resource
import tempfile
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.store import Store
from eval.bench_cli import emit, parse_args
from training.public_data import bitext_questions, demo_kb

STAGES = ("retrieve", "prompt", "first_token", "total")


def run(questions: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), _env_file=None)
        store = Store(settings.resolved_database_url)
        store.upgrade()
        assistant = Assistant(settings, store, ReleaseRegistry(settings.releases_dir))
        assistant.ingest([demo_kb()])
        assistant.ask("warm up: how do I cancel an order?")
        latencies = {stage: [] for stage in STAGES}
        abstained = 0
        for item in bitext_questions(questions, seed=7):
            answer = assistant.ask(item.question)
            abstained += answer.abstained
            for stage in STAGES:
                if stage in answer.latency_ms:
                    latencies[stage].append(answer.latency_ms[stage])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "questions": questions,
        "abstained": abstained,
        "latency_ms": {
            stage: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
            for stage, v in latencies.items()
            if v
        },
        "peak_rss_mb": peak_mb,
        "generator": settings.generator,
        "quantize": settings.quantize,
    }


def main() -> None:
    args = parse_args(__doc__, {"--questions": {"type": int, "default": 12}})
    report = run(args.questions)
    if not emit(report, args):
        return
    print(
        f"{report['questions']} Bitext questions, {report['abstained']} abstained; "
        f"peak RSS {report['peak_rss_mb']:.0f} MB"
    )
    print("| stage (ms since the question arrived) | p50 | p95 |\n|---|---|---|")
    for stage, t in report["latency_ms"].items():
        print(f"| {stage} | {t['p50']:.0f} | {t['p95']:.0f} |")


if __name__ == "__main__":
    main()
