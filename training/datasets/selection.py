"""Which rows a dataset keeps, and in which split: de-duplication, the caps, the dev split.

The poisoning defence lives here. :func:`select_rows` de-duplicates first (reviewed rows win,
so a duplicate never uses up a voter's budget), then admits vote-derived rows in log order, SFT
before KTO, through :class:`Caps`: a voter's votes count on at most ``max_rows_per_voter``
interactions (the earliest), a conversation gives at most ``max_rows_per_conversation`` rows
per kind and one answer text at most ``max_rows_per_answer``. Reviewed rows are not capped (a
lead vouched for each). :func:`split_of` puts whole conversations in ``train`` or ``dev``.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

from training.config import DatasetConfig
from training.datasets.rows import KINDS, Row

SPLITS = ("train", "dev")


def dedup(rows: list[Row], drops: Counter[str]) -> list[Row]:
    """``rows`` without the later ones of each ``dedup_key`` (counted as ``duplicate``)."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for row in rows:
        if row.dedup_key in seen:
            drops["duplicate"] += 1
            continue
        seen.add(row.dedup_key)
        kept.append(row)
    return kept


class Caps:
    """Per-voter budget of interactions (shared by all kinds); per-conversation and per-answer rows."""

    def __init__(self, config: DatasetConfig) -> None:
        self.config = config
        self.by_voter: dict[str, set[str | None]] = defaultdict(set)
        self.by_conversation: Counter[tuple[str, str]] = Counter()
        self.by_answer: Counter[tuple[str, str]] = Counter()

    def admit(self, row: Row, drops: Counter[str]) -> bool:
        """Whether ``row`` fits the caps (then it uses them up); a refusal is counted in ``drops``.

        The row keeps only the voters whose budget it fits (``row.voters``).
        """
        if not row.voters:
            return True  # reviewed: vouched for by a lead
        eligible = tuple(
            v
            for v in row.voters
            if row.interaction_id in self.by_voter[v]
            or len(self.by_voter[v]) < self.config.max_rows_per_voter
        )
        if not eligible:
            drops["voter_cap"] += 1
            return False
        key = (row.kind, row.conversation_id)
        if self.by_conversation[key] >= self.config.max_rows_per_conversation:
            drops["conversation_cap"] += 1
            return False
        answer = (row.kind, row.answer_key)
        if self.by_answer[answer] >= self.config.max_rows_per_answer:
            drops["answer_cap"] += 1
            return False
        self.by_conversation[key] += 1
        self.by_answer[answer] += 1
        for voter in eligible:
            self.by_voter[voter].add(row.interaction_id)
        row.voters = eligible
        return True


def select_rows(
    reviewed: tuple[list[Row], list[Row]],
    voted: tuple[list[Row], list[Row], list[Row]],
    *,
    order: dict[str, int],
    drops: dict[str, Counter[str]],
    config: DatasetConfig,
) -> dict[str, list[Row]]:
    """The rows kept of each kind (``sft``, ``kto``, ``pairs``), reviewed ones first.

    ``reviewed`` is (SFT rows, pairs) and ``voted`` (SFT rows, KTO rows, pairs), as
    :class:`~training.datasets.rows.RowBuilder` made them; ``order`` is each interaction's place
    in the log. A vote-derived pair is kept only when its interaction's SFT row was admitted.
    """
    reviewed_sft, reviewed_pairs = reviewed
    voted_sft, kto, voted_pairs = voted
    # De-duplicate first (reviewed rows win), so a duplicate never uses up a voter's budget.
    kept: dict[str, list[Row]] = {"sft": dedup(reviewed_sft, drops["sft"])}
    voted_sft = dedup(kept["sft"] + voted_sft, drops["sft"])[len(kept["sft"]) :]
    kto = dedup(kto, drops["kto"])
    # Then the caps, in log order, SFT before KTO: a voter's budget goes to the earliest interactions.
    caps = Caps(config)
    signal = sorted(
        voted_sft + kto, key=lambda r: (order.get(r.interaction_id or "", -1), KINDS.index(r.kind))
    )
    admitted = {id(row) for row in signal if caps.admit(row, drops[row.kind])}
    kept["sft"] += [r for r in voted_sft if id(r) in admitted]
    kept["kto"] = [r for r in kto if id(r) in admitted]
    admitted_sft = {r.interaction_id for r in kept["sft"] if r.columns["source"] == "outcome"}
    pairs = reviewed_pairs + [p for p in voted_pairs if p.interaction_id in admitted_sft]
    kept["pairs"] = dedup(pairs, drops["pairs"])
    return kept


def split_of(conversation_id: str, dev_share: float) -> str:
    """``dev`` or ``train`` for a conversation: a stable hash, so all its turns land together."""
    bucket = int.from_bytes(hashlib.sha256(conversation_id.encode()).digest()[:8], "big") / 2**64
    return "dev" if bucket < dev_share else "train"


def split_rows(kept: dict[str, list[Row]], dev_share: float) -> dict[str, dict[str, list[Row]]]:
    """Each kind's rows by split (:data:`SPLITS`), by :func:`split_of` their conversation."""
    return {
        kind: {s: [r for r in rows if split_of(r.conversation_id, dev_share) == s] for s in SPLITS}
        for kind, rows in kept.items()
    }
