"""Slack text in and out: escape everything we post, clean up what users send.

Slack's mrkdwn treats ``<…>`` as links and mentions (``<!channel>``, ``<@U…>``), so model,
user and document text is escaped (``&``, ``<``, ``>``) before it is posted; only links we
build ourselves are left as markup.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_BARE = re.compile(r"<(https?://[^<>|]+)>")
MAX_TEXT = 2900  # a section block holds 3000 characters


def escape(text: str) -> str:
    """``text`` with Slack's three control characters escaped (no mention, link or broadcast)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, title: str) -> str:
    """A mrkdwn link to an http(s) ``url``; just the escaped title for anything else."""
    label = escape(title.replace("|", "¦")) or "source"
    if not re.match(r"https?://", url or ""):
        return label
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe_url}|{label}>"


def question_from(text: str, bot_user_id: str | None) -> str:
    """What a user asked: the bot's mention removed, links and entities made plain again."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _BARE.sub(lambda m: m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def mentions(text: str, user_id: str | None) -> bool:
    """True when ``text`` mentions ``user_id``."""
    return bool(user_id) and re.search(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>", text or "") is not None


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis), never inside an escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"
