"""Run the benchmarks, each in its own process, and write ``eval/reports/benchmarks.{json,md}``.

The Markdown is what docs/benchmarks.md shows between its markers. Run: ``make bench`` for all, or
``python -m eval.run_benchmarks retrieval ingest`` to re-run some and keep the others' results.
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
PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
BENCHMARKS = {
    "generation": ["eval.bench_generation"],
    "retrieval": ["eval.bench_retrieval"],
    "ingest": ["eval.bench_ingest"],
    "ask": ["eval.bench_ask"],
    "answers": ["eval.bench_answers"],
    "training": ["eval.bench_training"],
    "cycle": ["eval.bench_cycle"],
    "crash": ["eval.bench_crash"],
    "load": ["eval.bench_load"],
    "load_real": ["eval.bench_load", "--model", "real"],
}


def run_one(module: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "-m", *module, "--out", out.name], check=True)
        return json.loads(Path(out.name).read_text())


def markdown(results: dict, machine: str) -> str:
    g, r, i, a = (results[k] for k in ("generation", "retrieval", "ingest", "ask"))
    lines = [f"Measured on {machine} by `make bench`: {_run_dates(results)}.", ""]
    base = g["baseline"]
    lines += [
        f"Generation: {g['prompt_tokens']}-token prompt (5 sources) + {g['new_tokens']} new tokens, "
        "greedy; answer similarity = mean cosine to Bitext reference answers over "
        f"{g['quality_questions']} questions. "
        f"Shipped by default: `{g['shipped_path']}`. Targets: ≥ 2.5x total, TTFT ≤ 0.35 of baseline.",
        "",
        "| path | time to first token | total | speed-up | TTFT ratio | answer similarity |",
        "|---|---|---|---|---|---|",
        f"| baseline: fp32 `model.generate` | {base['ttft_s']:.3f} s | {base['total_s']:.2f} s | "
        f"1.00x | 1.00 | {g['paths']['fp32']['answer_similarity']:.3f} (same text as fp32) |",
    ]
    for name, p in g["paths"].items():
        lines.append(
            f"| {name} | {p['ttft_s']:.3f} s | {p['total_s']:.2f} s | {p['speedup_total']:.2f}x | "
            f"{p['ttft_ratio']:.2f} | {p['answer_similarity']:.3f} |"
        )
    lines += [
        "",
        "| ingest benchmark | baseline | ours | ratio | target |",
        "|---|---|---|---|---|",
        f"| throughput, {i['chunks']} chunks | {i['raw_encode_chunks_per_s']:.0f} chunks/s (raw encode) | "
        f"{i['ingest_chunks_per_s']:.0f} chunks/s | {i['throughput_ratio']:.2f}x | ≥ 0.9x |",
        f"| re-ingest of the unchanged corpus | {i['ingest_s']:.1f} s (first ingest) | "
        f"{i['reingest_unchanged_s']:.2f} s | {i['reingest_ratio']:.1%} | ≤ 5% |",
    ]
    lines += ["", "Retrieval latency (query embedding + search, top 5):", ""]
    lines += [
        "| chunks | dense, exact (p50 / p95) | hybrid, exact | dense, HNSW | target |",
        "|---|---|---|---|---|",
    ]
    for size, modes in r["speed"].items():
        cells = " | ".join(
            f"{modes[m]['p50_ms']:.1f} / {modes[m]['p95_ms']:.1f} ms" for m in ("dense", "hybrid", "hnsw")
        )
        target = "p95 ≤ 30 ms" if size == "100000" else ""
        lines.append(f"| {int(size):,} | {cells} | {target} |")
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
        f"`ask` end to end ({a['questions']} questions, real models, default settings, "
        f"milliseconds since the question arrived; peak memory {a['peak_rss_mb']:.0f} MB):",
        "",
        "| stage | p50 | p95 |",
        "|---|---|---|",
    ]
    lines += [f"| {stage} | {t['p50']:.0f} | {t['p95']:.0f} |" for stage, t in lat.items()]
    if "answers" in results:
        lines += answers_lines(results["answers"])
    if "training" in results:
        s = results["training"]
        lines += [
            "",
            f"LoRA SFT throughput ({s['rows']} Bitext rows with their article as the source, "
            f"{s['steps']} steps of {s['batch_size']}, r={s['lora_r']}, up to {s['max_length']} tokens; "
            "best of alternating runs):",
            "",
            "| trainer | tokens/s | ratio | target |",
            "|---|---|---|---|",
            f"| plain TRL `SFTTrainer` (baseline) | {s['baseline_tokens_per_s']:.0f} | 1.00x | |",
            f"| `training.lora.train_sft` | {s['ours_tokens_per_s']:.0f} | {s['ratio']:.2f}x | ≥ 1.0x |",
        ]
    if "cycle" in results:
        c = results["cycle"]
        knobs = ", ".join(f"`{k}={v}`" for k, v in c["settings"].items())
        stages = ", ".join(
            f"{name} {stage['seconds']:.0f} s" for name, stage in c["stages"].items() if "seconds" in stage
        )
        lines += [
            "",
            f"One whole learning cycle on {c['items']} feedback items ({c['log']['up']} 👍 + resolved, "
            f"{c['log']['down']} 👎, {c['log']['corrected']} lead corrections): "
            f"**{c['cycle_s'] / 60:.1f} min** "
            f"(target ≤ 15 min; {stages}; gate {c['verdict']}, activated: {c['activated']}), with {knobs}.",
        ]
    if "crash" in results:
        lines += crash_lines(results["crash"])
    for name in ("load", "load_real"):
        if name in results:
            lines += load_lines(results[name])
    return "\n".join(lines) + "\n"


def _run_dates(results: dict) -> str:
    """When each benchmark last ran ("a and b 2026-11-27; c 2026-11-29"): a re-run keeps the others'."""
    by_date: dict[str, list[str]] = {}
    for name, result in results.items():
        by_date.setdefault(result.get("measured_on", "date not recorded"), []).append(name)
    return "; ".join(f"{_and(names)} {date}" for date, names in sorted(by_date.items()))


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def answers_lines(answers: dict) -> list[str]:
    """The answer-quality section: the previous answering path against today's, per corpus."""
    from eval.bench_answers import table

    sizes = ", ".join(f"{name} {c['questions']}" for name, c in answers["corpora"].items())
    intro = (
        f"What customers read ({answers['generator']}, first release, held-out test questions: {sizes}). "
        "*before*: the base model in fp32, five sources cut at 420 characters, no answer check, no "
        "repetition penalty, 160 tokens; *after*: the default settings (the starter adapter, int8, "
        "passages of the best three sources, the answer check with its extractive fallback, repetition "
        "penalty 1.2, 120 tokens)."
    )
    return ["", intro, "", *table(answers)]


def crash_lines(crash: dict) -> list[str]:
    """The crash-safety section: kill cycles per backend, and what was lost or doubled (target 0)."""
    from eval.bench_crash import table

    intro = (
        f"Crash safety of the feedback log: {crash['writers']} writer processes SIGKILLed at random "
        "moments each cycle (PostgreSQL: a private cluster also crashed with an immediate shutdown), "
        "some re-sending acknowledged keys after the restart. Target: 0 lost, 0 duplicated, integrity ok."
    )
    return ["", intro, "", *table(crash)]


def load_lines(load: dict) -> list[str]:
    """The load-test section: sessions with think time, then feedback at a fixed rate."""
    from eval.load_report import table

    think = "–".join(f"{t:g}" for t in load["think_s"])
    if load["model"] == "fake":
        fake = load["fake_generator"]
        intro = (
            f"Load (locust, loopback, {load['duration_s']:g} s per level, {think} s think time), fake "
            f"generator ({fake['ttft_s']:g} s to first token, {fake['tokens']} tokens "
            f"{fake['token_delay_s']:g} s apart): server overhead = first token − {fake['ttft_s']:g} s. "
            "Targets: overhead p95 ≤ 50 ms at 200 sessions, feedback p95 ≤ 50 ms at 200/s, errors < 0.1%."
        )
    else:
        passes = load["p95_ttft_passes_3s_at"]
        shed = sum(level["shed_503"] + level["shed_429"] for level in load["levels"].values())
        timeouts = sum(level["timeouts"] for level in load["levels"].values())
        intro = (
            f"Load with the real default model ({load['duration_s']:g} s per level, {think} s think time, "
            f"at most {load['max_concurrent_generations']} generations at once): p95 time to first token "
            f"passes 3 s at {f'{passes} sessions' if passes else 'no level measured'}; "
            f"shed with 503 + `Retry-After`: {shed}, timed out: {timeouts}."
        )
    return ["", intro, "", *table(load)]


def run_benchmarks(chosen: list[str]) -> None:
    """Run ``chosen`` benchmarks; merge into eval/reports and docs/benchmarks.md."""
    REPORTS.mkdir(exist_ok=True)
    previous = REPORTS / "benchmarks.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results.pop("machine", None)
    for name in chosen:
        module = BENCHMARKS[name]
        print(f"== {name}", flush=True)
        results[name] = {**run_one(module), "measured_on": time.strftime("%Y-%m-%d")}
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
    (REPORTS / "benchmarks.json").write_text(json.dumps({"machine": machine, **results}, indent=2))
    text = markdown(results, machine)
    (REPORTS / "benchmarks.md").write_text(text)
    page = PAGE.read_text(encoding="utf-8")
    before, rest = page.split(START, 1)
    PAGE.write_text(f"{before}{START}\n{text}{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    print(text)


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(sorted(unknown))}: choose from {', '.join(BENCHMARKS)}")
    run_benchmarks(chosen)


if __name__ == "__main__":
    main()
