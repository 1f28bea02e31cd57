"""PII redaction: table-driven positives and negatives, unicode, idempotence."""

from __future__ import annotations

import pytest

from training.redact import KINDS, find_pii, redact, redact_counts

POSITIVES = [
    # (text, redacted)
    ("Write to anna.smith+billing@example.co.uk please", "Write to [EMAIL] please"),
    ("mail: JOHN_DOE@Mail.Example.COM.", "mail: [EMAIL]."),
    ("jürgen.müller@beispiel.de hat geschrieben", "[EMAIL] hat geschrieben"),
    ("<bob@example.org>", "<[EMAIL]>"),
    ("call (415) 555-2671 today", "call [PHONE] today"),
    ("call 415.555.2671 now", "call [PHONE] now"),
    ("ring +44 20 7946 0958 after 5", "ring [PHONE] after 5"),
    ("+33 1 42 68 53 00", "[PHONE]"),
    ("Tel. +81 3-1234-5678", "Tel. [PHONE]"),
    ("номер +7 495 123-45-67", "номер [PHONE]"),
    ("+1 (415) 555-2671 ext. 12", "[PHONE]"),
    ("1-800-555-0199", "[PHONE]"),
    ("card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29"),
    ("4111-1111-1111-1111", "[CARD]"),
    ("5555555555554444", "[CARD]"),
    ("Amex 3782 822463 10005", "Amex [CARD]"),
    ("card 4111 1111 1111 1111 20 x", "card [CARD] 20 x"),
    ("IBAN DE89 3704 0044 0532 0130 00 THANKS", "IBAN [IBAN] THANKS"),
    ("GB82WEST12345698765432.", "[IBAN]."),
    ("gb82 west 1234 5698 7654 32", "[IBAN]"),
    ("FR14 2004 1010 0505 0001 3M02 606", "[IBAN]"),
    (
        "I'm ana@example.com, +49 30 901820, card 4012888888881881, IBAN NL91ABNA0417164300",
        "I'm [EMAIL], [PHONE], card [CARD], IBAN [IBAN]",
    ),
]

NEGATIVES = [
    "4111111111111112",  # 16 digits, Luhn fails
    "4111 1111 1111 1112",
    "GB82 WEST 1234 5698 7654 33",  # IBAN with a bad checksum
    "DE89370400440532013001",
    "Order 2024-000123 has shipped",
    "order #4155552671",
    "invoice no. 4155552671",
    "Your order number is 12345678",
    "on 2024-01-05 at 10:30",
    "on 12/05/2024",
    "costs $1,299.99 or 1.299,99 €",
    "tel 4155552671.00",
    "Windows 10.0.19041.1234",
    "version 2.13.0+cpu",
    "code 555-1234",
    "PIN 1234",
    "ZIP 94107-1234",
    "12345678901234",  # 14 digits, Luhn fails
    "1234567812345670",  # passes Luhn, but no card network starts with 1
    "ISBN 978-3-16-148410-0",
    "IP 192.168.100.200",
    "@alice hi",
    "x@y",
    "a@b.c",
    "[EMAIL] and [PHONE] and [CARD] and [IBAN]",
    "Ünïcödé ☃ text with no PII at all — 東京",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_pii_is_replaced_by_typed_placeholders(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_non_pii_stays(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


@pytest.mark.parametrize("text", [t for t, _ in POSITIVES] + NEGATIVES)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


def test_spans_name_kind_and_position() -> None:
    text = "mail ana@example.com or call +44 20 7946 0958"
    spans = find_pii(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("EMAIL", "ana@example.com"),
        ("PHONE", "+44 20 7946 0958"),
    ]
    assert {s.kind for s in spans} <= set(KINDS)
    _, counts = redact_counts(text)
    assert counts == {"EMAIL": 1, "PHONE": 1}


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("tel: 020 7946 0958", "GB", "tel: [PHONE]"),
        ("tel: 020 7946 0958", "US", "tel: 020 7946 0958"),
        ("ruf an: 030 12345678", "US,DE", "ruf an: [PHONE]"),
        ("call (415) 555-2671", ("GB", "US"), "call [PHONE]"),
    ],
)
def test_default_region_decides_national_numbers(text: str, region, expected: str) -> None:
    assert redact(text, region=region) == expected
