"""The output guard: what a generated answer may not contain, whatever the model was told.

A 135M model cannot be trusted to ignore instructions planted in a question or in an
ingested document, so every generated answer passes through :class:`OutputGuard` before a
customer or the log sees it:

- **links**: a URL, Markdown link, e-mail address or bare domain whose host is not on the
  allow-list loses its target (a Markdown link keeps its text);
- **prompt leaks**: an answer repeating :data:`LEAK_WORDS` consecutive words of the system
  prompt, or any secret-shaped token in it (a canary), is withheld as a whole.

:class:`GuardedStream` applies the same rules to a stream, holding back text that could
still turn into a link or a leak.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# 8 words: the longest runs an honest answer shares with the prompt are short phrases
# ("the sources", "say you don't know"); 8 consecutive words is a quotation.
LEAK_WORDS = 8
HOLD_CHARS = 400  # text held back waiting for a link to close is released past this
FILE_EXTENSIONS = frozenset(
    [
        "md",
        "txt",
        "pdf",
        "csv",
        "tsv",
        "json",
        "jsonl",
        "html",
        "htm",
        "xml",
        "yaml",
        "yml",
        "toml",
        "ini",
        "cfg",
        "log",
        "py",
        "js",
        "ts",
        "css",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "zip",
        "gz",
        "tar",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "exe",
        "dmg",
        "apk",
        "msi",
    ]
)

_WORD = re.compile(r"[a-z0-9']+")
_SECRET = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{12,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
# a bare domain needs its top-level label in one case: "days.Then" is a missing space
_BARE_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?-i:[a-z]{2,24}|[A-Z]{2,24})\b"
_LINK = re.compile(
    r"\[(?P<text>[^\]\n]*)\]\(\s*<?(?P<target>[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"  # [text](url "title")
    r"|<(?P<auto>[a-z][a-z0-9+.-]*:[^>\s]*)>"  # <scheme:...>
    r"|(?P<url>\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'`]+)"  # http://…, www.…
    r"|(?P<email>\b(?:mailto:)?[a-z0-9._%+-]+@" + _HOST + r"\b)"  # name@host
    r"|(?P<domain>(?<![\w@./-])" + _BARE_HOST + r"(?::\d+)?(?:/[^\s<>\"'`]*)?)",  # host.tld/path
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class Verdict:
    """A guarded answer: its text with links cleaned, and whether it leaked the prompt."""

    text: str
    leaked: bool
    links_removed: int


class OutputGuard:
    """The rules for one answer: which hosts links may go to, and the prompt it must not leak."""

    def __init__(self, allowed_hosts: Iterable[str], system_prompt: str) -> None:
        self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        words = _WORD.findall(system_prompt.lower())
        self._grams = {tuple(words[i : i + n]) for n in range(1, LEAK_WORDS + 1) for i in range(len(words))}
        self._secrets = tuple(s.lower() for s in _SECRET.findall(system_prompt))

    # -- links ---------------------------------------------------------------------------------
    def host_allowed(self, host: str | None) -> bool:
        """True for an allowed host or a subdomain of one."""
        host = (host or "").lower().rstrip(".")
        return bool(host) and any(host == h or host.endswith("." + h) for h in self.allowed_hosts)

    def url_allowed(self, url: str) -> bool:
        """An http(s) URL to an allowed host, or ``mailto:`` an address at one."""
        url = url.strip()
        if url.lower().startswith("www."):
            url = "https://" + url
        try:
            parts = urlsplit(url)
            if parts.scheme.lower() == "mailto":
                return self.host_allowed(parts.path.rpartition("@")[2])
            return parts.scheme.lower() in ("http", "https") and self.host_allowed(parts.hostname)
        except ValueError:  # a malformed URL (bad port, broken IPv6 literal) is not allowed
            return False

    def clean_links(self, text: str) -> tuple[str, int]:
        """``text`` without links to hosts off the allow-list, and how many were removed."""
        removed = 0

        def judge(match: re.Match[str]) -> str:
            nonlocal removed
            kind, whole = match.lastgroup, match.group(0)
            if match.group("target") is not None:  # [text](target): keep the text
                kind, target, kept = "markdown", match.group("target"), match.group("text")
            elif kind == "auto":
                target, kept = match.group("auto"), ""
            elif kind == "email":
                address = whole.split(":", 1)[1] if whole.lower().startswith("mailto:") else whole
                target, kept = "mailto:" + address, ""
            else:  # a bare URL or domain: trailing punctuation belongs to the sentence
                stripped = whole.rstrip(_TRAILING)
                target, kept = stripped, whole[len(stripped) :]
                if kind == "domain":
                    if (
                        stripped.split("/", 1)[0].split(":", 1)[0].rsplit(".", 1)[1].lower()
                        in FILE_EXTENSIONS
                    ):
                        return whole  # "README.md" is a file name, not a domain
                    target = "https://" + stripped
            if self.url_allowed(target):
                return whole
            removed += 1
            return kept

        return _LINK.sub(judge, text), removed

    # -- leaks ---------------------------------------------------------------------------------
    def leaks(self, text: str) -> bool:
        """True when ``text`` quotes the system prompt or contains one of its secrets."""
        decoded = " ".join(_decode(token) for token in _BASE64.findall(text)).lower()  # "in base64"
        return any(
            self._leak_run(_WORD.findall(hay)) >= LEAK_WORDS for hay in (text.lower(), decoded)
        ) or self._has_secret(text.lower(), decoded)

    def _has_secret(self, lowered: str, decoded: str) -> bool:
        if not self._secrets:
            return False
        squashed = re.sub(r"[^a-z0-9]", "", lowered)  # "C A N A R Y-1 2 3" spelled out
        haystacks = (lowered, squashed, decoded)
        return any(
            secret in hay or re.sub(r"[^a-z0-9]", "", secret) in hay
            for secret in self._secrets
            for hay in haystacks
        )

    def _leak_run(self, words: list[str]) -> int:
        """The longest run of consecutive words also consecutive in the prompt (capped at LEAK_WORDS)."""
        best = run = 0
        for index in range(len(words)):
            run = min(run + 1, LEAK_WORDS)
            while run and tuple(words[index - run + 1 : index + 1]) not in self._grams:
                run -= 1
            best = max(best, run)
        return best

    def trailing_run_start(self, text: str) -> int:
        """Where the run of prompt words ending ``text`` starts (``len(text)`` when none does)."""
        matches = list(_WORD.finditer(text.lower()))
        start = len(text)
        if matches and matches[-1].end() == len(text):  # a word still being written: held anyway
            start = matches.pop().start()
        for k in range(1, min(len(matches), LEAK_WORDS) + 1):
            if tuple(m.group(0) for m in matches[-k:]) not in self._grams:
                break
            start = matches[-k].start()
        return start

    def check(self, text: str) -> Verdict:
        """The whole answer judged: leaked (withhold it) or cleaned of links off the allow-list."""
        if self.leaks(text):
            return Verdict(text, True, 0)
        cleaned, removed = self.clean_links(text)
        return Verdict(cleaned, False, removed)

    def stream(self) -> GuardedStream:
        return GuardedStream(self)


class GuardedStream:
    """Streams an answer through a guard: text is let out only once no link or leak can still form.

    Text is released up to the last whitespace outside a Markdown link, and before any run of
    words that could still grow into a quotation of the prompt; once a leak shows, nothing
    more is released (:attr:`leaked`). :attr:`links_removed` counts links taken out.
    """

    def __init__(self, guard: OutputGuard) -> None:
        self.guard = guard
        self.raw = ""
        self.done = 0  # raw[:done] is decided (released or dropped)
        self.leaked = False
        self.links_removed = 0

    def feed(self, text: str) -> str:
        self.raw += text
        if self.leaked or self.guard.leaks(self.raw):
            self.leaked = True
            return ""
        return self._release(self._boundary())

    def flush(self) -> str:
        if self.leaked or self.guard.leaks(self.raw):
            self.leaked = True
            return ""
        return self._release(len(self.raw))

    def _release(self, boundary: int) -> str:
        if boundary <= self.done:
            return ""
        segment, self.done = self.raw[self.done : boundary], boundary
        cleaned, removed = self.guard.clean_links(segment)
        self.links_removed += removed
        return cleaned

    def _boundary(self) -> int:
        pending = self.raw[self.done :]
        limit = self.guard.trailing_run_start(self.raw) - self.done
        opened = _open_link(pending)
        if opened is not None and len(pending) - opened < HOLD_CHARS:
            limit = min(limit, opened)
        links = [m.span() for m in _LINK.finditer(pending) if m.group("target") is not None]
        spaces = re.finditer(r"\s+", pending[: max(limit, 0)])
        cut = max((m.end() for m in spaces if not any(a < m.end() < b for a, b in links)), default=0)
        if cut == 0 and len(pending) >= HOLD_CHARS:  # one endless token: let it go, links cleaned
            cut = len(pending) - 1
        return self.done + cut


def _open_link(text: str) -> int | None:
    """Where a Markdown link that is not closed yet starts in ``text``, if one is."""
    start = text.rfind("[")
    if start < 0:
        return None
    rest = text[start:]
    close = rest.find("]")
    if close < 0:
        return start
    if rest[close + 1 : close + 2] == "(" and ")" not in rest[close + 1 :]:
        return start
    if close == len(rest) - 1:
        return start  # "[text]" might still be followed by "(url)"
    return None


def _decode(token: str) -> str:
    try:
        return base64.b64decode(token + "=" * (-len(token) % 4), validate=False).decode("utf-8", "ignore")
    except (binascii.Error, ValueError):
        return ""
