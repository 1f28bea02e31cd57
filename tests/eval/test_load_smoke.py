"""Smoke test of the load benchmark: a tiny level against the fake generator, for a few seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_bench_load_reports_a_tiny_level_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, "-m", "eval.bench_load", "--levels", "3", "--duration", "4"]
    command += ["--think-min", "0.2", "--think-max", "0.5"]
    command += ["--feedback-rate", "5", "--feedback-duration", "3"]
    subprocess.run([*command, "--out", str(out)], cwd=ROOT, check=True, capture_output=True, timeout=200)
    report = json.loads(out.read_text())
    level = report["levels"]["3"]
    assert report["model"] == "fake" and report["fake_generator"]["ttft_s"] == 0.2
    assert level["requests"] > 0 and level["errors"] == 0 and level["timeouts"] == 0
    assert level["shed_429"] == level["shed_503"] == 0
    assert level["first_token_p95_ms"] >= 200 and level["overhead_p95_ms"] is not None
    # the server's own log of the same answers: retrieval ends before the fake's 200 ms first token
    assert 0 < level["server_retrieve_p50_ms"] <= level["server_retrieve_p95_ms"]
    assert level["server_first_token_p50_ms"] >= 200 + level["server_retrieve_p50_ms"] * 0.5
    assert report["feedback"]["requests"] > 0 and report["feedback"]["errors"] == 0
