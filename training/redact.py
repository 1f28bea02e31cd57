"""PII redaction for training data: emails, phone numbers, payment cards and IBANs.

Use :func:`redact` on every text that goes into a training set (questions, earlier turns,
sources, answers); use :func:`find_pii` when you need to know *what* was found (tests, dataset
manifests count the kinds). Each finding is replaced by a typed placeholder (``[EMAIL]``,
``[PHONE]``, ``[CARD]``, ``[IBAN]``), so the model still learns that "an email goes here".

What counts:

- **EMAIL** — a careful pattern (unicode letters allowed, a dotted domain with a letter TLD).
- **CARD** — 13 to 19 digits, single spaces or dashes between groups allowed, starting with a
  payment-network digit (2–6) and passing the Luhn checksum (``stdnum.luhn``). A 16-digit
  number with a wrong check digit stays.
- **IBAN** — a country code, two check digits and the account, spaced in groups or not, valid
  for its country's length and format and passing the mod-97 checksum (``stdnum.iban``).
- **PHONE** — what Google's libphonenumber (the maintained ``phonenumbers`` port) accepts as a
  valid number: international numbers (``+44 …``, ``0049 …`` from the default region) always,
  national numbers of the default region(s). Numbers labelled as an identifier (``order``,
  ``invoice``, ``ticket``, ``#``…) and numbers that continue as a decimal are left alone.

Dates, prices, version strings, order numbers and short digit runs are not redacted.
Redaction is idempotent: placeholders contain no digits and no ``@``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn

KINDS = ("EMAIL", "PHONE", "CARD", "IBAN")
DEFAULT_REGIONS = ("US",)

_EMAIL = re.compile(
    r"(?<![\w.+-])"  # not glued to a longer token
    r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"  # local part, no leading/trailing dot
    r"@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"  # domain labels
    r"[^\W\d_]{2,63}"  # a letter TLD (unicode letters allowed)
    r"(?![\w-])"
)
# Runs of digit groups joined by single spaces or dashes; cards are looked for inside, after.
_CARD = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){12,}(?![\w/-]|[.,]\d)")
# A country code and check digits, then alphanumeric groups separated by single spaces.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])", re.IGNORECASE)
# A label right before a number that makes it an identifier, not a phone number.
_ID_LABEL = re.compile(
    r"(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|account|acct|po|sku|serial|id|no)"
    r"\b\.?\s*(?:no\.?|number|num|id)?\s*[:#]?\s*|#\s*)$",
    re.IGNORECASE,
)
_CARD_PREFIXES = "23456"  # Mastercard 2/5, Amex/JCB/Diners 3, Visa 4, Discover/UnionPay 6


@dataclass(frozen=True)
class Span:
    """One piece of PII found in a text: ``text[start:end]`` is of ``kind`` (one of :data:`KINDS`)."""

    start: int
    end: int
    kind: str
    text: str

    @property
    def placeholder(self) -> str:
        return f"[{self.kind}]"


def _regions(region: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(region, str):
        region = region.split(",")
    found = tuple(r.strip().upper() for r in region if r.strip())
    return found or DEFAULT_REGIONS


def _emails(text: str) -> Iterable[Span]:
    for match in _EMAIL.finditer(text):
        yield Span(match.start(), match.end(), "EMAIL", match.group())


def _cards(text: str) -> Iterable[Span]:
    for match in _CARD.finditer(text):
        # The run may hold more than the card ("qty 2 4111 1111 1111 1111 20"): try every
        # stretch of 13-19 digits that starts and ends at a separator, leftmost then longest.
        run, base, position = match.group(), match.start(), 0
        separators = [i for i, char in enumerate(run) if char in " -"]
        for start in [0, *(i + 1 for i in separators)]:
            if start < position:
                continue
            ends = [end for end in [*separators, len(run)] if end > start]
            stretches = [run[start:end] for end in ends]
            stretches = [s for s in stretches if len(re.sub(r"[ -]", "", s)) <= 19]
            for stretch in reversed(stretches):
                digits = re.sub(r"[ -]", "", stretch)
                if len(digits) >= 13 and digits[0] in _CARD_PREFIXES and _luhn.is_valid(digits):
                    yield Span(base + start, base + start + len(stretch), "CARD", stretch)
                    position = start + len(stretch)
                    break


def _ibans(text: str) -> Iterable[Span]:
    position = 0
    while match := _IBAN.search(text, position):
        # The pattern may run on into following words ("… 0130 00 THANKS", even a second IBAN):
        # take the longest prefix ending at a space (or the whole match) that is a valid IBAN,
        # then look again right after it.
        candidate = match.group()
        ends = [len(candidate)] + [i for i in range(len(candidate) - 1, 0, -1) if candidate[i] == " "]
        end = next((end for end in ends if _iban.is_valid(candidate[:end])), None)
        if end is None:
            position = match.start() + 1
            continue
        yield Span(match.start(), match.start() + end, "IBAN", candidate[:end])
        position = match.start() + end


def _phones(text: str, regions: tuple[str, ...]) -> Iterable[Span]:
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            if _ID_LABEL.search(text[max(0, match.start - 24) : match.start]):
                continue  # "order 2024-000123", "#4155552671": an identifier
            if re.match(r"[.,]\d", text[match.end : match.end + 2]):
                continue  # "4155552671.00": an amount
            yield Span(match.start, match.end, "PHONE", match.raw_string)


def find_pii(text: str, *, region: str | Iterable[str] = DEFAULT_REGIONS) -> list[Span]:
    """Every piece of PII in ``text``, in order, without overlaps.

    ``region`` is the default region (or several, comma-separated) for phone numbers written
    without a country code, e.g. ``"US"`` or ``"GB,DE"``; numbers with ``+`` are found anyway.
    Cards and IBANs win over emails where they overlap (checksums are stronger evidence than a
    pattern); phone numbers are looked for last, in the text with those already replaced, so a
    second pass over the redacted text finds nothing new.
    """
    candidates = [*_cards(text), *_ibans(text), *_emails(text)]
    order = {"CARD": 0, "IBAN": 1, "EMAIL": 2}
    chosen: list[Span] = []
    for span in sorted(candidates, key=lambda s: (order[s.kind], s.start, -s.end)):
        if all(span.end <= other.start or span.start >= other.end for other in chosen):
            chosen.append(span)
    masked = text
    for span in chosen:  # the placeholder, padded or cut to the span's length: offsets stay put
        filler = span.placeholder[: span.end - span.start].ljust(span.end - span.start)
        masked = masked[: span.start] + filler + masked[span.end :]
    for span in _phones(masked, _regions(region)):
        if all(span.end <= other.start or span.start >= other.end for other in chosen):
            chosen.append(Span(span.start, span.end, "PHONE", text[span.start : span.end]))
    return sorted(chosen, key=lambda s: s.start)


def redact_counts(text: str, *, region: str | Iterable[str] = DEFAULT_REGIONS) -> tuple[str, Counter[str]]:
    """``text`` with every PII span replaced by its placeholder, and how many of each kind."""
    spans = find_pii(text, region=region)
    if not spans:
        return text, Counter()
    pieces, last = [], 0
    for span in spans:
        pieces += [text[last : span.start], span.placeholder]
        last = span.end
    pieces.append(text[last:])
    return "".join(pieces), Counter(span.kind for span in spans)


def redact(text: str, *, region: str | Iterable[str] = DEFAULT_REGIONS) -> str:
    """``text`` with emails, phone numbers, card numbers and IBANs replaced by ``[EMAIL]`` etc."""
    return redact_counts(text, region=region)[0]
