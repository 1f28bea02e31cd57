"""DatasetConfig: read from the settings, checked, saved beside the dataset and read back."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from training.config import DatasetConfig


def test_from_settings_round_trips(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATASET_OUTCOME_WEIGHT", "0.25")
    monkeypatch.setenv("ASSISTANT_DATASET_PII_REGIONS", "gb, de")
    config = DatasetConfig.from_settings(Settings(home=tmp_path, _env_file=None))
    assert config.outcome_weight == 0.25 and config.pii_regions == ("GB", "DE")
    assert config.min_sft_rows == 20 and config.max_rows_per_voter == 5
    config.save(tmp_path)
    assert DatasetConfig.load(tmp_path) == config


@pytest.mark.parametrize(
    "bad", [{"outcome_weight": 1.5}, {"dev_share": 1.0}, {"max_rows_per_voter": 0}, {"min_sft_rows": 0}]
)
def test_bad_values_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        DatasetConfig(**bad)
