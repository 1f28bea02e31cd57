"""Dashboard charts: standalone inline SVG, labelled series, an empty state, escaped labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from assistant.admin.charts import EMPTY_MESSAGE, rate_chart_svg, volume_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
RATE_LABELS = ["👍 rate", "👎 rate", "resolution", "escalation", "abstention", "curated"]
VOLUME_LABELS = ["questions", "p50 latency", "p95 latency", "latency (ms)"]


def row(group: str, key: str = "day", questions: int = 4, p50: int | None = 120) -> dict:
    return {
        key: group,
        "questions": questions,
        "thumbs_up_rate": 0.5,
        "thumbs_down_rate": 0.25,
        "resolution_rate": 0.4,
        "escalation_rate": 0.1,
        "abstention_rate": 0.2,
        "curated_rate": 0.3,
        "latency_p50_ms": p50,
        "latency_p95_ms": None if p50 is None else p50 * 3,
    }


def texts(svg: str) -> list[str]:
    """Every piece of text the chart shows (parsing fails if the SVG is not well-formed XML)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


DAYS = [row(f"2025-03-{day:02d}", p50=None if day == 3 else 100 + day) for day in range(1, 31)]


@pytest.mark.parametrize(
    ("chart", "labels"), [(rate_chart_svg, RATE_LABELS), (volume_chart_svg, VOLUME_LABELS)]
)
def test_a_chart_is_inline_svg_with_its_series_labelled(chart, labels: list[str]) -> None:
    svg = chart(DAYS, x_key="day")
    assert svg.startswith("<svg") and "<?xml" not in svg and "<!DOCTYPE" not in svg
    shown = texts(svg)
    assert set(labels) <= set(shown)
    assert "day" in shown and "2025-03-01" in shown
    assert len([t for t in shown if t.startswith("2025-03-")]) <= 12  # thinned, still readable


def test_rates_are_on_a_percent_axis() -> None:
    shown = texts(rate_chart_svg(DAYS[:3], x_key="day"))
    assert {"0%", "100%"} <= set(shown)


@pytest.mark.parametrize("chart", [rate_chart_svg, volume_chart_svg])
def test_no_rows_says_so(chart) -> None:
    assert texts(chart([], x_key="release")) == [EMPTY_MESSAGE]


@pytest.mark.parametrize("chart", [rate_chart_svg, volume_chart_svg])
def test_markup_in_a_release_id_stays_text(chart) -> None:
    hostile = ["<script>alert(1)</script>", 'r1" onload="alert(1)', "r$2$ & co"]
    svg = chart([row(name, key="release") for name in hostile], x_key="release")
    assert "<script" not in svg
    nodes = list(ET.fromstring(svg).iter())
    assert not [node for node in nodes if node.tag.rsplit("}", 1)[-1] in {"script", "foreignObject"}]
    assert not [name for node in nodes for name in node.attrib if name.lower().startswith("on")]
    assert set(hostile) <= set(texts(svg))  # shown as written, "$" not read as mathtext


def test_two_charts_on_one_page_do_not_share_ids() -> None:
    first, second = rate_chart_svg(DAYS, x_key="day"), rate_chart_svg(DAYS, x_key="day")
    ids = lambda svg: {node.get("id") for node in ET.fromstring(svg).iter() if node.get("id")}  # noqa: E731
    assert ids(first) and not ids(first) & ids(second)
    for svg in (first, second):  # every reference still resolves within its own chart
        references = {a or b for a, b in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg)}
        assert references and references <= ids(svg)
