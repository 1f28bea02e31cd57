"""The output guard: links off the allow-list lose their URL, prompt leaks are caught, streams hold back."""

from __future__ import annotations

import base64

import pytest

from assistant.generation.guard import LEAK_WORDS, OutputGuard
from assistant.generation.prompts import SYSTEM_PROMPT

CANARY = "CANARY-5e1d0c9a77f2"
GUARD = OutputGuard(["help.example.com", "status.example.org"], f"{SYSTEM_PROMPT} Reference {CANARY}.")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Visit http://evil.example/reset now.", "Visit  now."),
        ("See [the page](https://evil.example/x) [1].", "See the page [1]."),
        (
            "See [refunds](https://help.example.com/refunds).",
            "See [refunds](https://help.example.com/refunds).",
        ),
        (
            "Open https://docs.help.example.com/a, then evil.example/reset.",
            "Open https://docs.help.example.com/a, then .",
        ),
        ("Go to https://help.example.com@evil.example/login", "Go to "),
        ("Try www.evil.example or EVIL.EXAMPLE today", "Try  or  today"),
        ("Mail support@evil.example or help@help.example.com.", "Mail  or help@help.example.com."),
        ("[x](mailto:a@help.example.com) [y](mailto:a@evil.example)", "[x](mailto:a@help.example.com) y"),
        ("<https://status.example.org/> <http://evil.example/>", "<https://status.example.org/> "),
        ("[click](javascript:alert) [home](/reset)", "click home"),
        ("Read README.md or config.yaml; it took 5 days.Then e.g. 3.5 days.", None),
        ("Refunds take 5 days [1]. Array[i] and [1, 2] stay.", None),
    ],
)
def test_links_off_the_allow_list_lose_their_url(answer: str, expected: str | None) -> None:
    verdict = GUARD.check(answer)
    assert not verdict.leaked
    assert verdict.text == (answer if expected is None else expected)
    assert (verdict.links_removed > 0) == (expected is not None and expected != answer)


@pytest.mark.parametrize(
    "answer",
    [
        f"Sure: {SYSTEM_PROMPT}",
        "using only the sources. Cite the source you use like [1]",  # 11 words in a row
        f"The code is {CANARY.lower()}.",
        " ".join(CANARY),
        base64.b64encode(f"{SYSTEM_PROMPT} {CANARY}".encode()).decode(),
    ],
)
def test_prompt_leaks_are_caught(answer: str) -> None:
    assert GUARD.check(answer).leaked


@pytest.mark.parametrize(
    "answer",
    [
        "Refunds are paid within 5 days [1]. If the sources do not say, I don't know.",
        "I don't know; the sources do not cover the question.",  # short shared phrases are fine
        "Your order code is ORDER-12345678 [1].",  # a secret-shaped token not in the prompt
    ],
)
def test_honest_answers_pass(answer: str) -> None:
    assert GUARD.check(answer) == GUARD.check(answer) and not GUARD.check(answer).leaked
    assert LEAK_WORDS == 8


def _stream(text: str, step: int) -> tuple[list[str], bool]:
    stream = GUARD.stream()
    out = [stream.feed(text[i : i + step]) for i in range(0, len(text), step)]
    out.append(stream.flush())
    return out, stream.leaked


@pytest.mark.parametrize("step", [1, 3, 7])
def test_stream_releases_what_check_returns_and_never_a_partial_link(step: int) -> None:
    text = (
        "Refunds take 5 days [1]. Visit [the portal](http://evil.example/reset) or "
        "https://evil.example/x, or [refunds](https://help.example.com/r) today."
    )
    pieces, leaked = _stream(text, step)
    assert not leaked and "".join(pieces) == GUARD.check(text).text
    assert not any("evil" in piece or "http://e" in piece for piece in pieces)


@pytest.mark.parametrize("step", [1, 4])
def test_stream_stops_before_a_leak_shows(step: int) -> None:
    pieces, leaked = _stream(f"Happy to help. {SYSTEM_PROMPT}", step)
    shown = "".join(pieces)
    assert leaked and shown.startswith("Happy to help.")
    assert len(shown.split()) - 3 < LEAK_WORDS  # fewer than LEAK_WORDS prompt words ever shown
    pieces, leaked = _stream(f"The code is {CANARY} ok", step)
    assert leaked and CANARY not in "".join(pieces)
