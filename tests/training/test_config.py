"""Training configs: read from the settings (their defaults too), checked, saved and read back."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from training.config import DatasetConfig
from training.lora import LoraTrainingConfig
from training.retriever import RetrieverTrainingConfig


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


@pytest.mark.parametrize("config_class", [DatasetConfig, LoraTrainingConfig, RetrieverTrainingConfig])
def test_defaults_are_the_settings_defaults(config_class, tmp_path) -> None:
    assert config_class.from_settings(Settings(home=tmp_path, _env_file=None)) == config_class()


def test_training_configs_read_their_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_LORA_TARGET_MODULES", "q_proj, v_proj")
    monkeypatch.setenv("ASSISTANT_LORA_DROPOUT", "0.1")
    monkeypatch.setenv("ASSISTANT_RETRIEVER_LEARNING_RATE", "3e-5")
    monkeypatch.setenv("ASSISTANT_TRAIN_SEED", "7")
    settings = Settings(home=tmp_path, _env_file=None)
    lora = LoraTrainingConfig.from_settings(settings)
    retriever = RetrieverTrainingConfig.from_settings(settings)
    assert lora.target_modules == ("q_proj", "v_proj") and lora.dropout == 0.1 and lora.r == settings.lora_r
    assert retriever.learning_rate == 3e-5 and retriever.batch_size == settings.retriever_batch_size
    assert lora.seed == retriever.seed == 7
