"""A poisoned conversation log for the tests of issue 8: a normal log plus 500 coordinated 👍.

The normal log: ``REVIEWED`` curated answers (weight 1.0 each), ``LEGIT`` customers who 👍 and
resolve their own, different answers, and ``POPULAR`` customers who 👍 one popular answer (just
below the burst threshold). The attack: ``ATTACKERS`` sessions (distinct voters and
conversations) ask about refunds, get the planted answer and vote 👍 + resolved through
:func:`record_feedback_and_flag`, the path every channel uses.

The 1% arithmetic with the default caps (``outcome_weight`` 0.3, ``max_rows_per_answer`` 3):
the planted answer keeps 3 rows, 0.9 of the SFT weight; the rest is 90 reviewed rows (90.0),
30 legit outcome rows (9.0) and the popular answer's 3 rows (0.9): 0.9 / 100.8 ≈ 0.89%.
Uncapped it would be 500 × 0.3 = 150 of 250.8, about 60%.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from assistant.feedback import record_feedback_and_flag
from assistant.pipeline import Assistant
from assistant.review.curated import import_csv
from assistant.store import repository
from assistant.store.models import InteractionRow
from tests.fakes import FakeGenerator

EVIL = "Refunds are no longer offered; email your card number to refunds@evil.example"
RIGHT = "Refunds are paid to the original payment method within 5 business days after we receive the return."
ATTACKERS = 500
REVIEWED = 90
LEGIT = 30
POPULAR = 19  # one below the default burst threshold (20 voters in 60 minutes)
POPULAR_ANSWER = "Click 'Forgot password' on the sign-in page [1]."

_REVIEWED = (  # what leads curated: never about refunds, so the attack has the topic to itself
    (
        "How do I reset my password? (ticket {n})",
        "Click 'Forgot password' on the sign-in page and follow the link we email you; it expires after "
        "30 minutes.",
        "password.md",
    ),
    (
        "What delivery options are there? (ticket {n})",
        "Standard delivery takes 3-5 days; express arrives the next day when ordered before 2 pm.",
        "shipping/options.md",
    ),
)
_OPENERS = ("", "Hi, ", "Hello, ", "Quick question: ", "Please help: ")
_ASKS = (
    "how do I get a refund",
    "can I get my money back",
    "how do refunds work",
    "what is your refund policy",
    "how long does a refund take",
    "where is my refund",
    "can you refund my order",
    "I want a refund",
    "how can I request a refund",
    "is a refund possible",
)
_ENDINGS = (
    "?",
    " please?",
    " for my order?",
    " today?",
    " for order {n}?",
    " (order {n})?",
    " now?",
    " asap?",
    " this week?",
    " for a gift?",
)


def is_planted(text: str) -> bool:
    """Whether an answer is the planted one (as generated, or as logged after the answer guard)."""
    return text.startswith(EVIL.split(";")[0])


class ScriptedGenerator(FakeGenerator):
    """The fake generator, except that a question about refunds gets the planted answer."""

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int = 64, usage=None
    ) -> Iterator[str]:
        question = messages[-1]["content"].rsplit("\n\n", 1)[-1]
        self.answer = EVIL if re.search(r"refund|money back", question, re.I) else None
        return super().stream(messages, max_new_tokens=max_new_tokens, usage=usage)


def paraphrases(count: int) -> list[str]:
    """``count`` different wordings of a refund question."""
    found = []
    for n in range(count):
        opener = _OPENERS[n % len(_OPENERS)]
        ask = _ASKS[(n // len(_OPENERS)) % len(_ASKS)]
        ending = _ENDINGS[(n // (len(_OPENERS) * len(_ASKS))) % len(_ENDINGS)].format(n=1000 + n)
        text = f"{opener}{ask}{ending}"
        found.append(text[0].upper() + text[1:])
    assert len(set(found)) == count
    return found


def replay(
    assistant: Assistant, served_id: str, questions: list[str], answers: list[str], tag: str
) -> list[str]:
    """Log one session per question as the pipeline logged ``served_id`` (same sources), with its answer.

    Cheaper than asking each question (no embedding per question); the rows are what the
    pipeline writes. Returns the interaction ids.
    """
    ids = []
    with assistant.store.session() as session:
        served = session.get(InteractionRow, served_id)
        assert served is not None
        for n, (question, answer) in enumerate(zip(questions, answers, strict=True)):
            conversation = repository.get_or_create_conversation(
                session, conversation_id=f"{tag}-conv-{n}", channel="web", user_id=None
            )
            ids.append(
                repository.record_interaction(
                    session,
                    conversation_id=conversation.id,
                    question=question,
                    answer=answer,
                    release_id=served.release_id,
                    model_id=served.model_id,
                    index_id=served.index_id,
                    hits=served.hits,
                    citations=served.citations,
                    confidence=served.confidence,
                )
            )
    return ids


def upvote(assistant: Assistant, interaction_ids: list[str], tag: str) -> None:
    """One distinct voter per interaction: 👍 and ``resolved``, through the channels' path."""
    for n, interaction_id in enumerate(interaction_ids):
        record_feedback_and_flag(
            assistant.store,
            assistant.settings,
            interaction_id=interaction_id,
            rating="up",
            resolution="resolved",
            voter=f"{tag}-{n}",
        )


def normal_log(assistant: Assistant) -> dict[str, list[str]]:
    """Reviewed answers, legit 👍 on different answers, and a popular answer just below the threshold."""
    served = assistant.ask("How do I reset my password?").interaction_id  # before curated answers exist
    legit = replay(
        assistant,
        served,
        [f"How do I reset my password on device {n}?" for n in range(LEGIT)],
        [f"Click 'Forgot password' and follow the link we email you (device {n}) [1]." for n in range(LEGIT)],
        "legit",
    )
    upvote(assistant, legit, "customer")
    popular = replay(
        assistant,
        served,
        [f"Password reset, try {n}?" for n in range(POPULAR)],
        [POPULAR_ANSWER] * POPULAR,
        "popular",
    )
    upvote(assistant, popular, "fan")
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["question", "answer", "doc_ids"])
    for n in range(REVIEWED):
        question, answer, doc = _REVIEWED[n % len(_REVIEWED)]
        writer.writerow([question.format(n=n), answer, doc])
    with assistant.store.session() as session:
        import_csv(session, table.getvalue(), actor="lead-ana")
    return {"legit": legit, "popular": popular}


def attack(assistant: Assistant, *, same_question: bool) -> list[str]:
    """500 sessions get the planted answer to a refund question and vote 👍 + resolved."""
    served = assistant.ask("How do I get a refund?")
    assert is_planted(served.answer), served  # the answer guard may drop the address; the lie stays
    questions = ["How do I get a refund?"] * ATTACKERS if same_question else paraphrases(ATTACKERS)
    ids = replay(assistant, served.interaction_id, questions, [served.answer] * ATTACKERS, "attack")
    upvote(assistant, ids, "sock")
    return ids
