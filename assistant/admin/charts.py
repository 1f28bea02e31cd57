"""Dashboard charts as inline SVG, drawn on the server with matplotlib (no front-end build).

Give :func:`rate_chart_svg` and :func:`volume_chart_svg` the rows of
:func:`assistant.review.dashboard.dashboard_rows` and the key they are grouped by (``day`` or
``release``); each returns one ``<svg>`` element, without XML prolog or doctype, ready to be
placed in an HTML page. Text stays text (``svg.fonttype`` ``none``), so emoji and labels render
in the page's fonts, and matplotlib escapes it, so a release id cannot inject markup; mathtext
is off, so a ``$`` in a release id is shown as is.

pyplot is never used (it keeps global state and is not thread-safe); each chart is its own
:class:`~matplotlib.figure.Figure`, and a lock keeps the ``rc_context`` of concurrent renders
from undoing each other's settings.
"""

from __future__ import annotations

import io
import math
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

SIZE = (8.0, 3.0)  # inches
MAX_X_LABELS = 12
EMPTY_MESSAGE = "no questions in this period"
RATE_SERIES = (
    ("thumbs_up_rate", "👍 rate"),
    ("thumbs_down_rate", "👎 rate"),
    ("resolution_rate", "resolution"),
    ("escalation_rate", "escalation"),
    ("abstention_rate", "abstention"),
    ("curated_rate", "curated"),
)
LATENCY_SERIES = (("latency_p50_ms", "p50 latency"), ("latency_p95_ms", "p95 latency"))
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 8,
    "axes.spines.top": False,
}
_render_lock = threading.Lock()


def rate_chart_svg(rows: Sequence[Mapping[str, Any]], *, x_key: str) -> str:
    """👍, 👎, resolution, escalation, abstention and curated rates as lines on a 0–100 % axis."""

    def draw(fig: Figure, labels: list[str]) -> None:
        ax = fig.add_subplot()
        x = range(len(labels))
        for key, label in RATE_SERIES:
            ax.plot(x, [row[key] for row in rows], marker="o", markersize=3, linewidth=1.5, label=label)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set_ylabel("share of questions")
        ax.spines["right"].set_visible(False)
        _x_axis(ax, labels, x_key)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

    return _render(rows, x_key, draw)


def volume_chart_svg(rows: Sequence[Mapping[str, Any]], *, x_key: str) -> str:
    """Questions as bars, with p50 and p95 latency (ms) as lines on a second axis."""

    def draw(fig: Figure, labels: list[str]) -> None:
        ax = fig.add_subplot()
        x = range(len(labels))
        bars = ax.bar(x, [row["questions"] for row in rows], color="#9db4d3", label="questions")
        ax.set_ylabel("questions")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _x_axis(ax, labels, x_key)
        latency = ax.twinx()
        lines = [
            latency.plot(x, [_number(row.get(key)) for row in rows], marker="o", markersize=3, label=label)[0]
            for key, label in LATENCY_SERIES
        ]
        latency.set_ylabel("latency (ms)")
        latency.set_ylim(bottom=0)
        ax.legend(handles=[bars, *lines], loc="upper left", bbox_to_anchor=(1.08, 1), frameon=False)

    return _render(rows, x_key, draw)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _x_axis(ax: Any, labels: list[str], x_key: str) -> None:
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, ha="right")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xlabel(x_key)


def _render(rows: Sequence[Mapping[str, Any]], x_key: str, draw: Callable[[Figure, list[str]], None]) -> str:
    with _render_lock, matplotlib.rc_context(_RC), warnings.catch_warnings():
        # The text is written as text, so the browser draws 👍/👎 with its own emoji font;
        # matplotlib only lacks them for measuring the layout, which is close enough.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        fig = Figure(figsize=SIZE, layout="constrained")
        FigureCanvasSVG(fig)
        if rows:
            draw(fig, [str(row[x_key]) for row in rows])
        else:
            fig.text(0.5, 0.5, EMPTY_MESSAGE, ha="center", va="center", fontsize=11, color="#555555")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return _drop_unreferenced_ids(text[text.index("<svg") :])


_TAG = re.compile(r"<[^>]*>")  # text and attribute values are escaped, so "<" and ">" only delimit tags
_ID = re.compile(r'\s+id="([^"]*)"')
_REFERENCE = re.compile(r'url\(#([^)]+)\)|href="#([^"]+)"')


def _drop_unreferenced_ids(svg: str) -> str:
    """Remove the counter ids (``axes_1``, ``line2d_3``, …) that would repeat in a page of charts.

    The ids that something points to (clip paths, markers) are random per render and stay.
    """
    tags = _TAG.findall(svg)
    referenced = {a or b for tag in tags for a, b in _REFERENCE.findall(tag)}

    def clean(tag: re.Match[str]) -> str:
        return _ID.sub(lambda m: m.group(0) if m.group(1) in referenced else "", tag.group(0))

    return _TAG.sub(clean, svg)
