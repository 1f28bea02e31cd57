"""What a dataset build keeps, weighs and caps: :class:`DatasetConfig`, saved beside every dataset.

Build one from the settings (:meth:`DatasetConfig.from_settings`) or directly in tests and
notebooks; each field's default is its ``ASSISTANT_DATASET_*`` setting's default
(:mod:`training.defaults`). The build writes it as ``dataset_config.json`` next to the data and
into the manifest, so every dataset says which filters made it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.defaults import FromSettings, comma_list, setting

CONFIG_FILE = "dataset_config.json"


@dataclass(frozen=True)
class DatasetConfig(FromSettings):
    """Filters, weights and caps of :func:`training.datasets.build_datasets`.

    - ``outcome_weight``: SFT weight of an unreviewed generated answer that a voter rated 👍
      and marked ``resolved`` (reviewed answers weigh ``reviewed_weight``).
    - ``min_sft_rows``: fewer SFT rows than this and the build is skipped, nothing written.
    - ``dev_share``: share of *conversations* (stable hash of the id) that go to ``dev``.
    - ``max_rows_per_voter``: how many interactions one voter's votes may turn into rows (SFT
      outcome and preference rows together; the rows of one interaction count once, and a voter
      counts at most once per interaction: their latest rating and resolution).
    - ``max_rows_per_conversation``: vote-derived rows of each kind one conversation may give.
    - ``max_rows_per_answer``: vote-derived rows of each kind that one answer text (the
      normalised completion) may give, however many voters, questions or conversations it came
      from. Votes only say an answer is good; the same completion repeated adds weight, not
      information, and a coordinated flood of 👍 on one planted answer is exactly that. Reviewed
      rows are not capped (a lead vouched for each).
    - ``pii_regions``: default regions for phone numbers without a country code.
    - ``negative_min_similarity``: word overlap (Jaccard) a 👎 question needs with an anchor
      for its cited chunk to become that anchor's hard negative.
    - ``reviewed_weight``: SFT weight of a reviewed answer; fixed, not a setting.
    """

    outcome_weight: float = setting("dataset_outcome_weight")
    min_sft_rows: int = setting("dataset_min_sft_rows")
    dev_share: float = setting("dataset_dev_share")
    max_rows_per_voter: int = setting("dataset_max_rows_per_voter")
    max_rows_per_conversation: int = setting("dataset_max_rows_per_conversation")
    max_rows_per_answer: int = setting("dataset_max_rows_per_answer")
    pii_regions: tuple[str, ...] = setting("dataset_pii_regions", comma_list)
    negative_min_similarity: float = setting("dataset_negative_min_similarity")
    reviewed_weight: float = field(default=1.0, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.outcome_weight <= 1.0:
            raise ValueError("outcome_weight must be between 0 and 1")
        if not 0.0 <= self.dev_share < 1.0:
            raise ValueError("dev_share must be at least 0 and below 1")
        caps = (
            self.min_sft_rows,
            self.max_rows_per_voter,
            self.max_rows_per_conversation,
            self.max_rows_per_answer,
        )
        if min(caps) < 1:
            raise ValueError(
                "min_sft_rows, max_rows_per_voter, max_rows_per_conversation and max_rows_per_answer "
                "must be >= 1"
            )
        if not 0.0 <= self.negative_min_similarity <= 1.0:
            raise ValueError("negative_min_similarity must be between 0 and 1")
        object.__setattr__(
            self, "pii_regions", tuple(r.strip().upper() for r in self.pii_regions if r.strip())
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pii_regions"] = list(self.pii_regions)
        return data

    def save(self, folder: Path) -> None:
        (Path(folder) / CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> DatasetConfig:
        data = json.loads((Path(folder) / CONFIG_FILE).read_text())
        data.pop("reviewed_weight", None)
        data["pii_regions"] = tuple(data.get("pii_regions", ()))
        return cls(**data)
