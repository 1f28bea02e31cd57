"""The README and the manual in docs/ stay true to the code, and their links lead somewhere.

The README is the index (the two commands first, at most 250 lines); docs/operations.md holds the
current settings table, docs/benchmarks.md the last benchmark run.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from assistant.config import settings_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target), with an optional "title"; the text may hold one level of [...]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, …


def _outside_fences(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fence = [], ""
    for line in text.splitlines():
        match = FENCE.match(line)
        if match and (not fence or match.group(1).startswith(fence)):
            fence = "" if fence else match.group(1)[:3]
        elif not fence:
            lines.append(line)
    return lines


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to
    hyphens, and -1, -2, … for repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in _outside_fences(text):
        heading = HEADING.match(line)
        if not heading:
            continue
        title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(2))  # a link keeps its text
        title = re.sub(r"<[^>]+>", "", title).replace("`", "")  # a code span keeps its text
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(page: Path) -> list[str]:
    return [
        target
        for line in _outside_fences(page.read_text(encoding="utf-8"))
        for target in LINK.findall(CODE_SPAN.sub("", line))
        if not EXTERNAL.match(target)
    ]


def test_settings_table_is_current() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert settings_table() in operations, (
        "docs/operations.md settings table is stale: paste `python -m assistant.config`"
    )


def test_benchmark_section_is_the_last_real_run() -> None:
    report = (ROOT / "eval" / "reports" / "benchmarks.md").read_text()
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert f"<!-- benchmarks:start -->\n{report}<!-- benchmarks:end -->" in benchmarks


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == [
        "make run",
        "make test",
    ]


def test_the_readme_is_an_index() -> None:
    lines = len(README.splitlines())
    assert lines <= 250, f"README.md has {lines} lines: move the detail into a page under docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / unquote(path)).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif (
            anchor
            and file.suffix == ".md"
            and unquote(anchor).lower() not in github_anchors(file.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {', '.join(broken)}"


def test_github_anchors() -> None:
    text = (
        "# Does it learn? The `eval` harness\n"
        "```bash\n# a comment, not a heading\n```\n"
        "## Notes\n## Notes\n### A [link](x.md)\n"
    )
    assert github_anchors(text) == {"does-it-learn-the-eval-harness", "notes", "notes-1", "a-link"}


def test_links_in_code_are_not_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        'See [a](a.md) and ![b](img/b.png "B").\n`[c](c.md)`\n```\n[d](d.md)\n```\n[e](https://x.org)\n'
    )
    assert relative_links(page) == ["a.md", "img/b.png"]
