"""Block Kit for everything the app posts: answers, hand-offs, review items, the correction modal.

Action ids are stable (listeners and Slack workflows rely on them); button values carry the
interaction id (answers) or ``flag_id:version`` (review items).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.slack.text import clip, escape, link

THINKING = ":hourglass_flowing_sand: Looking through our help articles…"
VERIFIED = "Verified answer"

ACTION_UP = "assistant_feedback_up"
ACTION_DOWN = "assistant_feedback_down"
ACTION_RESOLVED = "assistant_resolved"
ACTION_HUMAN = "assistant_talk_to_human"
FEEDBACK_ACTIONS = (ACTION_UP, ACTION_DOWN, ACTION_RESOLVED, ACTION_HUMAN)

ACTION_APPROVE = "assistant_review_approve"
ACTION_CORRECT = "assistant_review_correct"
ACTION_REJECT = "assistant_review_reject"
REVIEW_ACTIONS = (ACTION_APPROVE, ACTION_CORRECT, ACTION_REJECT)

CORRECT_VIEW = "assistant_correct_answer"
ANSWER_BLOCK, ANSWER_INPUT = "answer", "answer_text"
SOURCES_BLOCK, SOURCES_INPUT = "sources", "answer_sources"

Blocks = list[dict[str, Any]]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def sources_line(citations: Iterable[Mapping[str, Any]]) -> str:
    """``Sources: <url|title> · …`` (escaped; links only for http(s) sources)."""
    seen: dict[str, str] = {}
    for citation in citations:
        key = citation.get("doc_id") or citation.get("source") or ""
        if key and key not in seen:
            seen[key] = link(citation.get("source") or "", citation.get("title") or key)
    return ("Sources: " + " · ".join(seen.values())) if seen else ""


def answer_text(answer: str, *, curated: bool) -> str:
    """The plain notification text of an answer (escaped)."""
    body = escape(answer.strip()) or "…"
    return f"{VERIFIED}: {body}" if curated else body


def streaming(text: str) -> Blocks:
    """The answer while it is being written."""
    return [_section(escape(text) + " …"), _context(THINKING)]


def answer(
    interaction_id: str,
    text: str,
    citations: Sequence[Mapping[str, Any]],
    *,
    curated: bool,
    abstained: bool,
) -> Blocks:
    """A finished answer: text, a "Verified answer" label, sources and the four buttons."""
    blocks: Blocks = []
    if curated:
        blocks.append(_context(f":white_check_mark: *{VERIFIED}* reviewed by our support team"))
    blocks.append(_section(escape(text.strip()) or "…"))
    line = sources_line(citations) if not abstained else ""
    if line:
        blocks.append(_context(line))
    buttons = [
        _button("👍", ACTION_UP, interaction_id),
        _button("👎", ACTION_DOWN, interaction_id),
        _button("Resolved", ACTION_RESOLVED, interaction_id, "primary"),
        _button("Talk to a human", ACTION_HUMAN, interaction_id),
    ]
    if abstained:
        buttons = [buttons[3]]
    blocks.append({"type": "actions", "block_id": "assistant_feedback", "elements": buttons})
    return blocks


def escalation(
    *,
    question: str,
    answer: str,
    channel: str,
    user: str | None,
    permalink: str | None,
    mention: str | None,
    comment: str | None = None,
) -> tuple[str, Blocks]:
    """The hand-off post for the support team: ``(notification text, blocks)``."""
    who = f"<@{user}>" if user and channel == "slack" else "A customer"
    ping = _mention(mention)
    head = f"{ping + ' ' if ping else ''}:raising_hand: {who} asked for a human ({escape(channel)})."
    lines = [head, f"*Question:* {escape(question)}", f"*Assistant said:* {escape(answer)}"]
    if comment:
        lines.append(f"*Comment:* {escape(comment)}")
    if permalink:
        lines.append(link(permalink, "Open the conversation"))
    return head, [_section("\n".join(lines))]


def _mention(target: str | None) -> str:
    target = (target or "").strip()
    if not target:
        return ""
    if target.startswith("S"):
        return f"<!subteam^{target}>"
    return f"<@{target}>"


def review_value(flag_id: int, version: int) -> str:
    return f"{flag_id}:{version}"


def parse_review_value(value: str) -> tuple[int, int]:
    flag_id, version = value.split(":", 1)
    return int(flag_id), int(version)


def review_item(
    *,
    flag_id: int,
    version: int,
    reasons: Sequence[str],
    channel: str,
    question: str,
    answer: str,
    citations: Sequence[Mapping[str, Any]],
    permalink: str | None = None,
) -> tuple[str, Blocks]:
    """A flagged answer for leads, with Approve / Correct / Reject: ``(text, blocks)``."""
    head = f":triangular_flag_on_post: Flag {flag_id} ({escape(', '.join(reasons))}) from {escape(channel)}"
    lines = [head, f"*Question:* {escape(question)}", f"*Answer:* {escape(answer) or '_(none)_'}"]
    blocks: Blocks = [_section("\n".join(lines))]
    extra = [
        line for line in (sources_line(citations), link(permalink, "thread") if permalink else "") if line
    ]
    if extra:
        blocks.append(_context(" · ".join(extra)))
    value = review_value(flag_id, version)
    blocks.append(
        {
            "type": "actions",
            "block_id": "assistant_review",
            "elements": [
                _button("Approve", ACTION_APPROVE, value, "primary"),
                _button("Correct", ACTION_CORRECT, value),
                _button("Reject", ACTION_REJECT, value, "danger"),
            ],
        }
    )
    return head, blocks


def reviewed(original: Sequence[Mapping[str, Any]], outcome: str) -> Blocks:
    """The review item after a decision: its buttons replaced by who did what."""
    kept = [dict(block) for block in original if block.get("type") != "actions"]
    return kept + [_context(outcome)]


def correct_modal(
    *,
    flag_id: int,
    version: int,
    question: str,
    answer: str,
    documents: Sequence[tuple[str, str]],
    cited: Sequence[str],
    origin: Mapping[str, str],
) -> dict[str, Any]:
    """The "Correct" modal: the answer to edit and the sources to pick (of the retrieved ones)."""
    blocks: Blocks = [
        _section(f"*Question:* {escape(question)}"),
        {
            "type": "input",
            "block_id": ANSWER_BLOCK,
            "label": {"type": "plain_text", "text": "Answer customers should get"},
            "element": {
                "type": "plain_text_input",
                "action_id": ANSWER_INPUT,
                "multiline": True,
                "initial_value": answer[:3000],
            },
        },
    ]
    options = [_option(doc_id, title) for doc_id, title in list(dict.fromkeys(documents))[:100]]
    if options:
        element: dict[str, Any] = {
            "type": "multi_static_select",
            "action_id": SOURCES_INPUT,
            "placeholder": {"type": "plain_text", "text": "Pick the articles"},
            "options": options,
        }
        initial = [o for o in options if o["value"] in set(cited)]
        if initial:
            element["initial_options"] = initial
        blocks.append(
            {
                "type": "input",
                "block_id": SOURCES_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Sources"},
                "element": element,
            }
        )
    metadata = {"flag": flag_id, "version": version, **origin}
    return {
        "type": "modal",
        "callback_id": CORRECT_VIEW,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Correct the answer"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _option(doc_id: str, title: str) -> dict[str, Any]:
    label = (title or doc_id)[:75]
    return {"text": {"type": "plain_text", "text": label}, "value": doc_id[:150]}
