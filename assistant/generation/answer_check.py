"""The answer check: a small model's loops, refusals and filler never reach the customer.

Measured on the default model (SmolLM2-135M, demo help centre): many answers looped until the
token limit ("Get invoice: Get invoice …"), refused questions the sources covered ("I'm unable
to assist with creating an account"), or said nothing from the article ("I'm here to assist
you"). :class:`AnswerCheck` is a stream filter that judges the answer one sentence at a time,
before the sentence is shown:

- a sentence said before (word for word, or with :data:`NEAR_REPEAT` of its content words), one
  that says a two-word phrase twice in a row, or one that makes a 4-word sequence appear a third
  time, is a loop: it is dropped and generation stops (:attr:`AnswerCheck.stop`);
- a refusal or disclaimer is dropped (the pipeline only generates when retrieval found sources
  it is confident cover the question, so a refusal is always of a covered question);
- a sentence with content words of which fewer than :data:`GROUNDED_SHARE` occur in the
  sources is made up, so is one that states a number neither the sources nor the question hold
  ("Refunds take 10 days" over "within 5 business days"), and one that says nothing but
  :data:`FILLER` ("I'm here to help with any questions or issues you may have") is filler: all
  are dropped;
- the first sentence shown loses a leading "However," (what it contrasted with was dropped) or a
  list marker copied from the sources' format ("2) ", "[1] Placing an order: ");
- a question back, a mix-up of who asks, and the model speaking as if it could act ("I can
  delete your account if you wish") are dropped as not grounded;
- a sentence with fewer than two content words at all ("Sure!", "Here's how:") and a lead-in
  that ends in a colon ("To reset your password, follow these steps:") are shown with the next
  sentence that passes, and dropped if none does (the lead-in alone is no answer, seen on the
  demo); a line without a word ("12:09", seen on the int8 path) is dropped.

Three sentences dropped before any passed end the answer too: measured on the demo questions,
an answer that opens with three bad sentences did not recover, and stopping early serves the
fallback seconds sooner.

When nothing passes, the pipeline answers with an extractive answer from the best source instead
and flags the interaction with :attr:`AnswerCheck.failure` (``refused``, ``ungrounded`` or
``degenerate``). :func:`is_degenerate` and :func:`is_refusal` are the same rules for whole texts
(the evaluation counts answers with them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from assistant.retrieval.lexical import content_terms
from assistant.retrieval.passages import SENTENCE_END
from assistant.types import Hit

GROUNDED_SHARE = 0.5  # at least this share of a sentence's content words must be in the sources
# Words every support text uses: a sentence made of them says nothing ("I'm here to help with any
# questions or issues you may have"), so they are not content words for the check.
FILLER = frozenset(
    content_terms(
        "help helping assist assistance support team question questions issue issues inquiry inquiries "
        "contact reach please need happy glad sorry feel free let know service customer provide any "
        "information detail details regarding concern concerns ensure sure additional further "
        "specific particular personal business professional provider experience confusion "
        "misunderstanding hear understand frustration apologize apologies inconvenience refer hesitate "
        "needed welcome answer answers"
    )
)
MAX_SENTENCE_CHARS = 300  # a "sentence" longer than this is judged as it is (no end in sight)
REPEATS = 3  # a 4-word sequence seen this many times is a loop
# a sentence sharing this share of its content words (Jaccard) with one already shown says it again
# ("go to 'My Account' and select 'Shipping Addresses'" twice in other words, seen on the demo)
NEAR_REPEAT = 0.6
_NGRAM = 4
GIVE_UP = 3  # sentences dropped before any passed: the answer is not going to recover

_REFUSAL = re.compile(
    r"\b(?:i'?m|i am) (?:unable|not able|not authori[sz]ed|not a\b)"
    r"|\bi (?:can ?not|can't|won't|couldn't|could not) "
    r"(?:help|assist|provide|answer|access|do that|make|process|handle)"
    r"|\bas an? (?:[\w-]+ ){0,3}(?:ai|language model|assistant|bot)\b"
    r"|\bi (?:don't|do not) have (?:access|information|the ability)"
    r"|\bi'?m (?:just )?an? (?:ai|language model|bot)\b"
    r"|\b(?:beyond|outside) (?:my|the) (?:scope|capabilities)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9']+")
# what may open the first sentence shown but reads wrong there: a connective whose other half was
# dropped ("However,"), or a list marker copied from the sources' format ("2) ", "[1] Placing an order: ")
_DANGLING_OPENER = re.compile(
    r"^(\s*)(?:(?:however|but|also|additionally|moreover),?\s+|\d+[.)]\s+|\[\d+\]\s+(?:[^:.\n]{1,60}:\s+)?)(\w)",
    re.IGNORECASE,
)
# the model mistaking who asks ("You've provided me with an answer to my question about ...")
_ROLE_MIX_UP = re.compile(r"\b(?:my question|provided me|you(?:'ve| have) asked me)\b", re.IGNORECASE)
# the model speaking as if it could act ("I can delete your account if you wish", "I can track your
# order's status by ..."): it cannot, and what it says next is seldom the article's (seen on the demo)
_ACTS = re.compile(r"^\W*I(?:\s+can|\s+will|'ll|\s+could|'d)\b(?!\s*n[o']t)", re.IGNORECASE)
_MARKERS = re.compile(r"\[[\d,;\s]+\]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_LIST_MARKER = re.compile(r"^\s*\d{1,3}[.)]\s")  # "2. Open Orders": the model's own numbering


def is_refusal(sentence: str) -> bool:
    """A refusal or an "as an AI" disclaimer."""
    return bool(_REFUSAL.search(sentence))


def is_degenerate(text: str) -> bool:
    """A loop: some 4-word sequence three times, or some sentence (of 3+ words) said twice."""
    words = _WORD.findall(text.lower())
    grams = Counter(tuple(words[i : i + _NGRAM]) for i in range(len(words) - _NGRAM + 1))
    if grams and max(grams.values()) >= REPEATS:
        return True
    seen: set[str] = set()
    for part in SENTENCE_END.split(text):
        key = " ".join(_WORD.findall(part.lower()))
        if len(key.split()) >= 3:
            if key in seen:
                return True
            seen.add(key)
    return False


class AnswerCheck:
    """A stream filter over one generated answer, given the texts of the sources it was shown and
    the question it answers."""

    def __init__(self, sources: Iterable[str], question: str = "", *, give_up: int | None = GIVE_UP) -> None:
        texts = list(sources)
        self.give_up = give_up  # None: judge every sentence whatever came before (a reference answer)
        self.source_terms = set().union(*(content_terms(text) for text in texts))
        self.known_numbers = set(_NUMBER.findall(" ".join([*texts, question])))
        self.question_terms = content_terms(question) - FILLER
        self.stop = False  # a loop began, or nothing passed in GIVE_UP tries: stop generating
        self.passed = 0  # sentences shown
        self.dropped: Counter[str] = Counter()  # why sentences were dropped
        self._held = ""  # the sentence being written
        self._pending = ""  # short sentences waiting for one that passes
        self._said: set[str] = set()
        self._shown: list[set[str]] = []  # the content words of each sentence shown
        self._grams: Counter[tuple[str, ...]] = Counter()
        self._last_words: list[str] = []  # the end of the previous sentence, for 4-grams across two

    @classmethod
    def over(cls, hits: Sequence[Hit], question: str, *, give_up: int | None = GIVE_UP) -> AnswerCheck:
        """The check of an answer to ``question`` from ``hits`` (each source's title and text)."""
        return cls((f"{hit.chunk.title}\n{hit.chunk.text}" for hit in hits), question, give_up=give_up)

    def judge_text(self, text: str) -> str:
        """What of a whole ``text`` passes (the stream filter run over it at once)."""
        return self.feed(text) + self.flush()

    @property
    def failure(self) -> str | None:
        """Why nothing of the answer could be shown (None when something was)."""
        if self.passed:
            return None
        if self.dropped["degenerate"]:
            return "degenerate"
        if self.dropped["refused"]:
            return "refused"
        return "ungrounded"

    def feed(self, text: str) -> str:
        if self.stop:
            return ""
        self._held += text
        out = []
        while not self.stop:
            end = SENTENCE_END.search(self._held)
            if end is None:
                if len(self._held) <= MAX_SENTENCE_CHARS:
                    break
                cut = len(self._held)
            else:
                cut = end.end()
            sentence, self._held = self._held[:cut], self._held[cut:]
            out.append(self._judge(sentence))
        return "".join(out)

    def flush(self) -> str:
        if self.stop or not self._held.strip():
            self._held = ""
            return ""
        sentence, self._held = self._held, ""
        return self._judge(sentence)

    def _judge(self, sentence: str) -> str:
        """``sentence`` (with its trailing space) as it may be shown: itself, held, or nothing."""
        plain = _MARKERS.sub("", sentence)
        words = _WORD.findall(plain.lower())
        if not words:
            return self._release(sentence) if self.passed else ""
        if not any(word[0].isalpha() for word in words) and not _LIST_MARKER.match(plain + " "):
            return ""  # "12:09": no word at all (a list number "2." waits for its item below)
        if self._loops(words):
            self.stop = True
            self.dropped["degenerate"] += 1
            return ""
        if is_refusal(plain):
            return self._drop("refused")
        said = content_terms(plain)
        terms = said - FILLER
        if len(said) < 2:  # "Sure!", "Here's how:": shown only before a sentence that passes
            self._pending += sentence
            return ""
        if len(terms) >= 3 and any(len(terms & t) >= NEAR_REPEAT * len(terms | t) for t in self._shown):
            self.stop = True
            self.dropped["degenerate"] += 1
            return ""
        grounded = len(terms & self.source_terms) >= GROUNDED_SHARE * len(terms)
        made_up_number = not set(_NUMBER.findall(_LIST_MARKER.sub("", plain))) <= self.known_numbers
        asks = plain.rstrip().endswith("?") or bool(_ROLE_MIX_UP.search(plain) or _ACTS.match(plain))
        if len(terms) < 2 or not grounded or made_up_number or terms <= self.question_terms or asks:
            self._pending = ""  # its lead-in goes with it
            return self._drop("ungrounded")
        self._shown.append(terms)
        if plain.rstrip().endswith(":"):  # a lead-in: shown with what it leads to, if anything passes
            self._pending += sentence
            return ""
        return self._release(sentence)

    def _drop(self, reason: str) -> str:
        self.dropped[reason] += 1
        if self.give_up is not None and not self.passed and self.dropped.total() >= self.give_up:
            self.stop = True
        return ""

    def _release(self, sentence: str) -> str:
        text, self._pending = self._pending + sentence, ""
        if not self.passed:
            text = _DANGLING_OPENER.sub(lambda m: m.group(1) + m.group(2).upper(), text, count=1)
        self.passed += 1
        return text

    def _loops(self, words: list[str]) -> bool:
        """True when this sentence repeats an earlier one or completes a repeated 4-word sequence."""
        key = " ".join(words)
        if len(words) >= 3 and key in self._said:
            return True
        if any(words[i : i + 2] == words[i + 2 : i + 4] for i in range(len(words) - 3)):
            return True  # "Get invoice: Get invoice": a phrase said twice in a row
        self._said.add(key)
        tail = list(self._last_words) + words
        new = Counter(tuple(tail[i : i + _NGRAM]) for i in range(len(tail) - _NGRAM + 1))
        self._grams.update(new)
        self._last_words = tail[-(_NGRAM - 1) :]
        return any(self._grams[gram] >= REPEATS for gram in new)
