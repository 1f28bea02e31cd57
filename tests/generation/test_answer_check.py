"""The answer check: loops stop, refusals and filler go, grounded sentences stream, per sentence."""

from __future__ import annotations

import pytest

from assistant.generation.answer_check import AnswerCheck, is_degenerate, is_refusal

SOURCE = (
    "Getting a refund. To get a refund, open Orders and select Return item. "
    "Refunds reach your card within 5 business days. If you have questions, contact our support team."
)


def run(pieces: list[str]) -> tuple[str, AnswerCheck]:
    check = AnswerCheck([SOURCE])
    shown = ""
    for piece in pieces:
        shown += check.feed(piece)
        if check.stop:
            break
    return shown + check.flush(), check


@pytest.mark.parametrize(
    ("answer", "shown", "failure"),
    [
        (
            "Open Orders and select Return item [1]. Refunds reach your card within 5 days.",
            "Open Orders and select Return item [1]. Refunds reach your card within 5 days.",
            None,
        ),
        ("Sure! Open Orders and select Return item.", "Sure! Open Orders and select Return item.", None),
        ("I'm unable to assist with refunds, as I'm not a customer support AI.", "", "refused"),
        (
            "As an AI language model I cannot help. Open Orders and select Return item.",
            "Open Orders and select Return item.",
            None,
        ),
        ("I'm here to help with any questions or issues you may have.", "", "ungrounded"),
        ("Our rockets launch from Mars every Tuesday at noon.", "", "ungrounded"),
        ("I'm sorry for any confusion, as a customer service AI I can't make changes.", "", "refused"),
        ("You're asking how to get a refund from Orders?", "", "ungrounded"),  # a question back
        (
            "I'm unable to help. However, open Orders and select Return item.",
            "Open Orders and select Return item.",
            None,
        ),
        (
            "2) Refunds: open Orders and select Return item.",
            "Refunds: open Orders and select Return item.",
            None,
        ),
        (
            "[1] Getting a refund: Refunds reach your card within 5 business days.",
            "Refunds reach your card within 5 business days.",
            None,
        ),
        ("You've provided me with an answer to my question about a refund from Orders.", "", "ungrounded"),
        ('12:09\nThe answer is "3 days"', "", "ungrounded"),  # seen on the int8 path: noise, a made-up figure
        ("I'm sorry I couldn't assist you with your refund.", "", "refused"),
        (
            "I can refund your card if you wish. Open Orders and select Return item.",
            "Open Orders and select Return item.",
            None,
        ),  # seen on the int8 path: noise, a made-up figure
        ("Refunds reach your card within 10 business days.", "", "ungrounded"),
        ("To get a refund, follow these steps:\n", "", "ungrounded"),  # a lead-in and nothing after it
        (
            "To get a refund, follow these steps:\n1. Open Orders.\n2. Select Return item.",
            "To get a refund, follow these steps:\n1. Open Orders.\n2. Select Return item.",
            None,
        ),
        ("Return item, return item, return item, return item, return item.", "", "degenerate"),
        (
            "Open Orders, pick the order and select Return item. "
            "You can also open Orders, pick your order and then select Return item again.",
            "Open Orders, pick the order and select Return item. ",
            None,
        ),
        (
            "Select the item, then open Orders, then select the item.",
            "Select the item, then open Orders, then select the item.",
            None,
        ),
        (
            "Open Orders and select Return item. Open Orders and select Return item.",
            "Open Orders and select Return item. ",
            None,
        ),
        (
            "Select Return item in Orders. 4. Return item: Return item 5. Return item: Return item 6. Return",
            "Select Return item in Orders. ",
            None,
        ),
    ],
)
def test_sentences(answer: str, shown: str, failure: str | None) -> None:
    out, check = run([answer])
    assert out == shown
    assert check.failure == failure


@pytest.mark.parametrize(
    ("question", "answer", "shown"),
    [
        ("I can't return my item", "I can't return my item.", ""),  # an echo says nothing
        (
            "I can't return my item",
            "Open Orders and select Return item.",
            "Open Orders and select Return item.",
        ),
    ],
)
def test_an_echo_of_the_question_is_dropped(question: str, answer: str, shown: str) -> None:
    check = AnswerCheck([SOURCE], question)
    assert check.feed(answer) + check.flush() == shown


def test_a_loop_stops_generation_before_it_is_shown() -> None:
    words = ("Open Orders and select Return item. " * 5).split(" ")
    out, check = run([w + " " for w in words])
    assert check.stop and out == "Open Orders and select Return item. "


def test_three_bad_sentences_before_a_good_one_end_the_answer() -> None:
    bad = (
        "I'm sorry, as an AI I cannot help. Our rockets launch from Mars. "
        "I'm here to help with any questions. "
    )
    out, check = run([bad, "Open Orders and select Return item."])
    assert check.stop and out == "" and check.failure == "refused"
    out, check = run([bad.split(". ", 1)[1], "Open Orders and select Return item."])  # two are forgiven
    assert not check.stop and out == "Open Orders and select Return item."


def test_bad_sentences_after_a_good_one_do_not_stop_it() -> None:
    good = "Open Orders and select Return item. "
    out, check = run([good, "Our rockets launch from Mars. ", "I'm here to help. As an AI I cannot. "])
    assert not check.stop and out == good


def test_a_sentence_is_held_until_it_ends() -> None:
    check = AnswerCheck([SOURCE])
    assert check.feed("Open Orders and") == ""
    assert check.feed(" select Return item. Then") == "Open Orders and select Return item. "
    assert check.flush() == ""  # "Then": too short to stand alone


@pytest.mark.parametrize(
    ("text", "degenerate"),
    [
        (
            "Check invoice. Get invoice: Get invoice 6. Get invoice: Get invoice 7. Get invoice: Get invoice",
            True,
        ),
        ("Open the app. Tap Orders. Open the app.", True),
        ("Open the app. Tap Orders. Choose the order and tap Return.", False),
    ],
)
def test_is_degenerate(text: str, degenerate: bool) -> None:
    assert is_degenerate(text) is degenerate


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("I'm unable to assist with creating an account", True),
        ("I can't help with that.", True),
        ("As a customer support AI, I cannot share that.", True),
        ("You can't return an item after 30 days.", False),
        ("I'm sorry to hear that; open Orders to return it.", False),
    ],
)
def test_is_refusal(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


def test_sentences_of_a_source() -> None:
    from assistant.retrieval.passages import split_sentences

    text = "# Getting a refund\n\n1. Open Orders.\n2. Select Return item. It costs $5. Done!\n- A bullet"
    assert split_sentences(text) == [
        "Getting a refund",
        "1. Open Orders.",
        "2. Select Return item.",
        "It costs $5.",
        "Done!",
        "A bullet",
    ]
