"""Run every benchmark, each in its own process, and write ``eval/reports/benchmarks.{json,md}``.

The Markdown is what the README's benchmark section shows. Run: ``make bench``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPORTS = Path(__file__).resolve().parent / "reports"
BENCHMARKS = {
    "generation": ["eval.bench_generation"],
    "retrieval": ["eval.bench_retrieval"],
    "ingest": ["eval.bench_ingest"],
    "ask": ["eval.bench_ask"],
}


def run_one(module: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "-m", *module, "--out", out.name], check=True)
        return json.loads(Path(out.name).read_text())


def markdown(results: dict, machine: str) -> str:
    g, r, i, a = (results[k] for k in ("generation", "retrieval", "ingest", "ask"))
    lines = [f"Measured on {machine}, {time.strftime('%Y-%m-%d')}, by `make bench`.", ""]
    lines += [
        "| benchmark | baseline | shipped | ratio | target |",
        "|---|---|---|---|---|",
        f"| generation total, {g['prompt_tokens']}-token prompt + {g['new_tokens']} tokens | "
        f"{g['baseline']['total_s']:.2f} s (fp32 `generate`) | {g['shipped']['total_s']:.2f} s | "
        f"{g['speedup_total']:.2f}x faster | ≥ 2.5x |",
        f"| generation time to first token | {g['baseline']['ttft_s']:.3f} s | {g['shipped']['ttft_s']:.3f} s | "
        f"{g['ttft_ratio']:.2f} of baseline | ≤ 0.35 |",
        f"| ingest throughput, {i['chunks']} chunks | {i['raw_encode_chunks_per_s']:.0f} chunks/s (raw encode) | "
        f"{i['ingest_chunks_per_s']:.0f} chunks/s | {i['throughput_ratio']:.2f}x | ≥ 0.9x |",
        f"| re-ingest of the unchanged corpus | {i['ingest_s']:.1f} s (first ingest) | "
        f"{i['reingest_unchanged_s']:.2f} s | {i['reingest_ratio']:.1%} | ≤ 5% |",
    ]
    lines += ["", "Retrieval latency (query embedding + search, top 5):", ""]
    lines += ["| chunks | dense p50 / p95 | hybrid p50 / p95 | target |", "|---|---|---|---|"]
    for size, modes in r["speed"].items():
        d, h = modes["dense"], modes["hybrid"]
        target = "p95 ≤ 30 ms" if size == "100000" else ""
        lines.append(
            f"| {int(size):,} | {d['p50_ms']:.1f} / {d['p95_ms']:.1f} ms | "
            f"{h['p50_ms']:.1f} / {h['p95_ms']:.1f} ms | {target} |"
        )
    q = r["quality"]
    lines += [
        "",
        f"Retrieval quality: {q['questions']} random Bitext questions against the 27 demo articles; "
        f"{q['out_of_scope']} CLINC150 out-of-scope questions; confidence threshold {q['min_confidence']}.",
        "",
        "| mode | hit@1 | recall@5 | MRR | in-scope answered | out-of-scope abstained |",
        "|---|---|---|---|---|---|",
    ]
    for mode, m in q["modes"].items():
        lines.append(
            f"| {mode} | {m['hit@1']:.3f} | {m['recall@5']:.3f} | {m['mrr']:.3f} | "
            f"{m['answered_in_scope']:.3f} | {m['abstained_out_of_scope']:.3f} |"
        )
    lat = a["latency_ms"]
    lines += [
        "",
        f"`ask` end to end ({a['questions']} questions, real models, milliseconds since the question arrived; "
        f"peak memory {a['peak_rss_mb']:.0f} MB):",
        "",
        "| stage | p50 | p95 |",
        "|---|---|---|",
    ]
    lines += [f"| {stage} | {t['p50']:.0f} | {t['p95']:.0f} |" for stage, t in lat.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    REPORTS.mkdir(exist_ok=True)
    results = {}
    for name, module in BENCHMARKS.items():
        print(f"== {name}", flush=True)
        results[name] = run_one(module)
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
    (REPORTS / "benchmarks.json").write_text(json.dumps({"machine": machine, **results}, indent=2))
    text = markdown(results, machine)
    (REPORTS / "benchmarks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
