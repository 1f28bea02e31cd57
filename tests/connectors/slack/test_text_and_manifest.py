"""Slack text escaping, question clean-up and the app manifest (table-driven)."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from connectors.slack import blocks
from connectors.slack.text import clip, escape, link, mentions, question_from


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel> now", "&lt;!channel&gt; now"),
        ("<https://evil.example|x>", "&lt;https://evil.example|x&gt;"),
        ("a & b", "a &amp; b"),
        ("<@U123>", "&lt;@U123&gt;"),
    ],
)
def test_escape(raw: str, shown: str) -> None:
    assert escape(raw) == shown


@pytest.mark.parametrize(
    ("url", "title", "shown"),
    [
        ("https://help.example.com/refunds", "Refunds", "<https://help.example.com/refunds|Refunds>"),
        ("https://x.example/a|b>c", "T<!here>", "<https://x.example/a%7Cb%3Ec|T&lt;!here&gt;>"),
        ("kb/refunds.md", "Refunds & returns", "Refunds &amp; returns"),  # not a web link: title only
        ("javascript:alert(1)", "x", "x"),
    ],
)
def test_link(url: str, title: str, shown: str) -> None:
    assert link(url, title) == shown


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("<@UBOT> how do I get a refund?", "how do I get a refund?"),
        ("<@UBOT|bot>   refunds &amp; returns &lt;3", "refunds & returns <3"),
        ("see <https://a.example|this page> <@UOTHER>", "see this page @UOTHER"),
        ("<@UBOT>", ""),
    ],
)
def test_question_from(text: str, question: str) -> None:
    assert question_from(text, "UBOT") == question


def test_mentions_and_clip() -> None:
    assert mentions("hi <@UBOT>", "UBOT") and not mentions("hi <@UOTHER>", "UBOT")
    assert clip("a" * 10 + "&amp;", 13) == "a" * 10 + "…"  # never cuts an escape in half


def test_curated_answers_are_labelled_and_sources_linked() -> None:
    citations = [{"doc_id": "r.md", "title": "Refunds", "source": "https://h.example/r"}]
    shown = str(blocks.answer("i-1", "Paid in 5 days.", citations, curated=True, abstained=False))
    assert blocks.VERIFIED in shown and "<https://h.example/r|Refunds>" in shown
    abstained = blocks.answer("i-2", "I don't know.", citations, curated=False, abstained=True)
    assert [e["action_id"] for e in abstained[-1]["elements"]] == [blocks.ACTION_HUMAN]


def test_manifest_has_the_scopes_events_and_modes_needed() -> None:
    manifest = yaml.safe_load(resources.files("connectors.slack").joinpath("manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:history", "channels:history", "usergroups:read"} <= scopes
    settings = manifest["settings"]
    assert {"app_mention", "message.im", "message.channels"} <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
