"""The benchmarks run end to end on small settings (their numbers are not asserted, their shape is)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(module: str, *args: str, tmp_path: Path) -> dict:
    out = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return json.loads(out.read_text())


def test_retrieval_benchmark(tmp_path: Path) -> None:
    report = bench("eval.bench_retrieval", "--questions", "40", "--sizes", "1000", tmp_path=tmp_path)
    modes = report["quality"]["modes"]
    assert set(modes) == {"dense", "lexical", "hybrid"}
    assert 0.0 <= modes["hybrid"]["hit@1"] <= modes["hybrid"]["recall@5"] <= 1.0
    assert set(report["speed"]["1000"]) == {"dense", "hybrid", "hnsw"}


def test_ingest_benchmark(tmp_path: Path) -> None:
    report = bench("eval.bench_ingest", "--docs", "20", tmp_path=tmp_path)
    assert report["documents"] == 20 and report["reingest_unchanged_s"] < report["ingest_s"]


@pytest.mark.slow
def test_generation_benchmark(tmp_path: Path, model_cache: Path) -> None:
    generation = bench(
        "eval.bench_generation",
        *("--runs", "1", "--new-tokens", "4", "--quality-questions", "2", "--cache-dir", str(model_cache)),
        tmp_path=tmp_path,
    )
    assert set(generation["paths"]) == {"fp32", "int8"} and generation["prompt_tokens"] > 400
    assert generation["shipped_path"] == "int8"  # ASSISTANT_QUANTIZE defaults to true


@pytest.mark.slow
def test_training_benchmark(tmp_path: Path, model_cache: Path) -> None:
    report = bench(
        "eval.bench_training",
        *("--rows", "4", "--steps", "1", "--repeats", "1", "--cache-dir", str(model_cache)),
        tmp_path=tmp_path,
    )
    assert report["rows"] == 4 and report["baseline_tokens_per_s"] > 0 and report["ours_tokens_per_s"] > 0
    assert report["ratio"] == pytest.approx(
        report["ours_tokens_per_s"] / report["baseline_tokens_per_s"], rel=0.01
    )


@pytest.mark.slow
def test_cycle_benchmark(tmp_path: Path, model_cache: Path) -> None:
    report = bench(
        "eval.bench_cycle", "--items", "60", "--quick", "--cache-dir", str(model_cache), tmp_path=tmp_path
    )
    assert report["items"] == 60 and sum(report["log"][k] for k in ("up", "down")) == 60
    assert report["status"] == "succeeded", report["reason"]
    assert report["stages"]["sft"]["steps"] == 2 and report["cycle_s"] > 0
