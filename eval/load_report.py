"""The load benchmark's report as Markdown (no locust import: safe in any process)."""

from __future__ import annotations


def table(report: dict) -> list[str]:
    """The report as Markdown table lines (also used by ``eval.run_benchmarks``)."""
    fake = report["model"] == "fake"
    head = "| sessions | answers/s | first token p50 / p95 |"
    head += " server overhead p50 / p95 |" if fake else ""
    head += " retrieval (server log) p50 / p95 |"
    lines = [head + " errors | 429 / 503 shed | timeouts |", "|---" * (8 if fake else 7) + "|"]

    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f}"

    for lv in report["levels"].values():
        row = f"| {lv['sessions']} | {lv['answers_per_s']:.1f} | "
        row += f"{ms(lv['first_token_p50_ms'])} / {ms(lv['first_token_p95_ms'])} ms |"
        if fake:
            row += f" {ms(lv['overhead_p50_ms'])} / {ms(lv['overhead_p95_ms'])} ms |"
        row += f" {ms(lv['server_retrieve_p50_ms'])} / {ms(lv['server_retrieve_p95_ms'])} ms |"
        row += f" {lv['error_rate']:.2%} | {lv['shed_429']} / {lv['shed_503']} | {lv['timeouts']} |"
        lines.append(row)
    if "feedback" in report:
        f = report["feedback"]
        lines += [
            "",
            f"`POST /v1/feedback` at {f['per_s']:.0f} requests/s (target {f['target_per_s']:g}): "
            f"p50 {ms(f['p50_ms'])} ms, p95 {ms(f['p95_ms'])} ms, errors {f['error_rate']:.2%}.",
        ]
    return lines
