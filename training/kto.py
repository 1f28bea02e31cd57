"""An optional KTO stage: nudge the SFT adapter towards 👍 answers and away from 👎 ones.

Use :func:`train_kto` after :func:`training.lora.train_sft`, on the ``kto`` dataset a build
wrote (unpaired: ``prompt``, ``completion``, ``label``), with TRL's ``KTOTrainer``. It keeps
training the same LoRA adapter; the reference model is the base model (the adapter switched
off), so no second copy of the model is loaded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from datasets import DatasetDict, load_from_disk

from training.lora import CONFIG_FILE as LORA_CONFIG_FILE
from training.lora import (
    QUIET_RUN,
    Progress,
    ProgressReporter,
    RunCancelled,
    TrainResult,
    device_options,
    load_tokenizer,
    quiet,
)

CONFIG_FILE = "kto_training_config.json"
KTO_COLUMNS = ["prompt", "completion", "label"]


@dataclass(frozen=True)
class KtoTrainingConfig:
    """KTO's strength and schedule; saved beside the adapter it tuned."""

    beta: float = 0.1
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 5e-5
    batch_size: int = 4
    max_length: int = 768
    seed: int = 0

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def train_kto(
    base_model: str,
    adapter_dir: Path,
    data: Path | DatasetDict,
    out_dir: Path,
    config: KtoTrainingConfig | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Continue ``adapter_dir`` with KTO on ``data``; save the result in ``out_dir``.

    Raises ``ValueError`` when the data lacks either 👍 or 👎 rows (KTO needs both).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from trl import KTOConfig, KTOTrainer

    config = config or KtoTrainingConfig()
    splits = load_from_disk(str(data)) if isinstance(data, Path) else data
    train = splits["train"].select_columns(KTO_COLUMNS)
    labels = set(train["label"])
    if labels != {True, False}:
        raise ValueError("KTO needs both desirable (👍) and undesirable (👎) answers")
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=True)
    work = out_dir.parent / f".{out_dir.name}.work"
    args = KTOConfig(
        output_dir=str(work),
        beta=config.beta,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=max(2, config.batch_size),  # the KL estimate mismatches pairs in a batch
        learning_rate=config.learning_rate,
        max_length=config.max_length,
        seed=config.seed,
        **QUIET_RUN,
        **device_options(),
    )
    reporter = ProgressReporter(on_progress, should_stop)
    trainer = KTOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=load_tokenizer(base_model),
        callbacks=[reporter],
    )
    quiet(trainer)
    try:
        output = trainer.train()
    except RunCancelled:
        return TrainResult(out_dir, len(train), 0, None, None, 0, reporter.elapsed_s, True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    cast(PeftModel, trainer.model).save_pretrained(str(out_dir))  # the adapter only
    if (adapter_dir / LORA_CONFIG_FILE).exists() and adapter_dir != out_dir:  # the SFT stage's record
        shutil.copy2(adapter_dir / LORA_CONFIG_FILE, out_dir / LORA_CONFIG_FILE)
    config.save(out_dir)
    return TrainResult(
        adapter_dir=out_dir,
        examples=len(train),
        steps=output.global_step,
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        eval_loss=None,
        dataset_tokens=0,
        seconds=reporter.elapsed_s,
        cancelled=False,
    )
