"""LoRA supervised fine-tuning of the generator with TRL's ``SFTTrainer`` and a peft ``LoraConfig``.

Use :func:`train_sft` on the ``sft`` dataset a build wrote (see :mod:`training.datasets`): its
rows are TRL prompt-completion conversations, so the loss falls on the answer tokens only. Row
weights (reviewed answers 1.0, outcome-weighted ones less) are honoured by repeating rows in
proportion, which keeps the trainer stock TRL (and as fast). The adapter is saved with
:class:`LoraTrainingConfig` beside it as ``training_config.json``, peft-style.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from datasets import Dataset, DatasetDict, load_from_disk
from transformers import PrinterCallback, TrainerCallback

from training.defaults import FromSettings, comma_list, setting

CONFIG_FILE = "training_config.json"
TRAIN_COLUMNS = ["prompt", "completion"]


@dataclass(frozen=True)
class LoraTrainingConfig(FromSettings):
    """The adapter's shape and how it is trained; saved next to the adapter it made.

    Each field but ``extra`` mirrors an ``ASSISTANT_LORA_*`` setting (``seed``: ``ASSISTANT_TRAIN_SEED``)
    and defaults to it: defaults that suit SmolLM2-135M on a small CPU (attention projections
    only, rank 8, a short run). :meth:`~training.defaults.FromSettings.from_settings` reads them
    from the settings. ``max_steps`` > 0 caps the run (tests, smoke runs) whatever ``epochs``
    says; ``extra`` is passed to TRL's ``SFTConfig`` as is.
    """

    r: int = setting("lora_r")
    alpha: int = setting("lora_alpha")
    dropout: float = setting("lora_dropout")
    target_modules: tuple[str, ...] = setting("lora_target_modules", comma_list)
    epochs: float = setting("lora_epochs")
    max_steps: int = setting("lora_max_steps")
    learning_rate: float = setting("lora_learning_rate")
    batch_size: int = setting("lora_batch_size")
    gradient_accumulation: int = setting("lora_gradient_accumulation")
    max_length: int = setting("lora_max_length")
    seed: int = setting("train_seed")
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise ValueError("r and alpha must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if self.batch_size < 1 or self.gradient_accumulation < 1:
            raise ValueError("batch_size and gradient_accumulation must be at least 1")

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LoraTrainingConfig:
        data = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        data["target_modules"] = tuple(data["target_modules"])
        return cls(**data)


@dataclass(frozen=True)
class Progress:
    """Where a training run is: reported after every optimizer step."""

    step: int
    total_steps: int
    epoch: float
    loss: float | None
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        if self.step <= 0:
            return None
        return self.elapsed_s / self.step * max(self.total_steps - self.step, 0)


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or cancelled) run produced and measured."""

    adapter_dir: Path
    examples: int
    steps: int
    train_loss: float | None
    eval_loss: float | None
    dataset_tokens: int  # tokens of one pass over the (weighted) training rows
    seconds: float
    cancelled: bool
    train_runtime_s: float | None = None  # the trainer's own timing of its training loop


class RunCancelled(Exception):
    """Raised inside the trainer when ``should_stop`` says so; nothing is saved."""


def weighted_rows(dataset: Dataset) -> Dataset:
    """Repeat rows in proportion to ``weight`` (lightest weight = once), keeping only prompt/completion.

    Repetition instead of a weighted loss keeps the trainer stock TRL; weights are rounded to
    whole repeats, which is as precise as a handful of reviewed rows needs.
    """
    if "weight" not in dataset.column_names or len(dataset) == 0:
        return dataset.select_columns(TRAIN_COLUMNS)
    weights = [float(w) for w in dataset["weight"]]
    lightest = min(w for w in weights if w > 0) if any(w > 0 for w in weights) else 1.0
    order = [i for i, w in enumerate(weights) for _ in range(max(0, round(w / lightest)))]
    return dataset.select(order).select_columns(TRAIN_COLUMNS)


QUIET_RUN: dict[str, Any] = {  # trainer arguments every run here shares
    "logging_steps": 1,
    "save_strategy": "no",
    "eval_strategy": "no",
    "report_to": [],
    "dataloader_num_workers": 0,
    "disable_tqdm": True,
}


def quiet(trainer: Any) -> Any:
    """Drop the callback that prints every log line to stdout: progress goes to the run record.

    Without it a command's ``--json`` output would be interleaved with the trainer's log dicts.
    """
    trainer.remove_callback(PrinterCallback)
    return trainer


def device_options() -> dict[str, Any]:
    """Trainer arguments for the hardware here: bf16 on a GPU that has it, else fp32 on the CPU.

    bf16 is set either way because TRL's configs default it to True: on a CPU without native
    bf16 that sends every matrix multiply through torch's slow fallback (10-20x slower). TRL
    also turns gradient checkpointing on; on a CPU memory is rarely short and recomputing the
    activations costs about 15% a step, so it is off there.
    """
    import torch

    if torch.cuda.is_available():
        return {"bf16": torch.cuda.is_bf16_supported(), "use_cpu": False}
    return {"bf16": False, "use_cpu": True, "dataloader_pin_memory": False, "gradient_checkpointing": False}


def load_tokenizer(base_model: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class ProgressReporter(TrainerCallback):
    """Tells ``on_progress`` where the run is after every step; stops it when ``should_stop`` says so."""

    def __init__(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.started = time.monotonic()
        self.last_loss: float | None = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 (transformers' signature)
        if logs and "loss" in logs:
            self.last_loss = float(logs["loss"])

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.on_progress is not None and state.is_world_process_zero:
            epoch = state.epoch or 0.0
            self.on_progress(
                Progress(state.global_step, state.max_steps, epoch, self.last_loss, self.elapsed_s)
            )
        if self.should_stop is not None and self.should_stop():
            raise RunCancelled
        return control


def train_sft(
    base_model: str,
    data: Path | DatasetDict,
    out_dir: Path,
    config: LoraTrainingConfig | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on ``data`` (a saved ``sft`` DatasetDict) and save it in ``out_dir``.

    ``base_model`` is a local folder or hub id of the generator; ``config`` defaults to
    ``LoraTrainingConfig()`` (the settings' defaults). Uses a GPU when there is one.
    ``on_progress`` hears every step; when ``should_stop`` returns True the run stops at the
    next step and nothing is written (``cancelled=True``).
    """
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    config = config or LoraTrainingConfig()
    splits = load_from_disk(str(data)) if isinstance(data, Path) else data
    train = weighted_rows(splits["train"])
    dev = splits["dev"].select_columns(TRAIN_COLUMNS) if "dev" in splits and len(splits["dev"]) else None
    if len(train) == 0:
        raise ValueError("the training split is empty")
    tokenizer = load_tokenizer(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    work = out_dir.parent / f".{out_dir.name}.work"
    args = SFTConfig(
        output_dir=str(work),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        max_length=config.max_length,
        completion_only_loss=True,
        seed=config.seed,
        **QUIET_RUN,
        **device_options(),
        **config.extra,
    )
    reporter = ProgressReporter(on_progress, should_stop)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=dev,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[reporter],
    )
    quiet(trainer)
    tokens = sum(len(ids) for ids in cast(Dataset, trainer.train_dataset)["input_ids"])  # tokenised by now
    try:
        output = trainer.train()
    except RunCancelled:
        return TrainResult(out_dir, len(train), 0, None, None, tokens, reporter.elapsed_s, True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    eval_loss = trainer.evaluate()["eval_loss"] if dev is not None else None
    trainer.save_model(str(out_dir))  # the adapter only; under `accelerate launch`, by the main process
    if trainer.is_world_process_zero():
        config.save(out_dir)
    train_loss = float(output.training_loss) if output.training_loss is not None else None
    return TrainResult(
        adapter_dir=out_dir,
        examples=len(train),
        steps=output.global_step,
        train_loss=train_loss if train_loss is None or math.isfinite(train_loss) else None,
        eval_loss=float(eval_loss) if eval_loss is not None else None,
        dataset_tokens=tokens,
        seconds=reporter.elapsed_s,
        train_runtime_s=float(output.metrics.get("train_runtime", 0.0)) or None,
        cancelled=False,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m training.lora``: the SFT stage alone, e.g. under ``accelerate launch`` on several GPUs.

    With ``--run-id`` the main process reports progress into that run record (store settings from
    the environment) and stops when the run is cancelled.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.lora", description=main.__doc__)
    parser.add_argument("--base", required=True, help="Generator weights: a local folder or hub id.")
    parser.add_argument("--data", required=True, type=Path, help="A saved `sft` DatasetDict.")
    parser.add_argument("--out", required=True, type=Path, help="Where to save the adapter.")
    parser.add_argument("--config", default="{}", help="LoraTrainingConfig fields as JSON.")
    parser.add_argument("--run-id", default=None, help="Report progress into this run record.")
    args = parser.parse_args(argv)
    fields = json.loads(args.config)
    if "target_modules" in fields:
        fields["target_modules"] = tuple(fields["target_modules"])
    on_progress = should_stop = None
    if args.run_id:
        from assistant import runs
        from assistant.config import get_settings
        from assistant.store import Store

        store = Store(get_settings().resolved_database_url)

        def on_progress(progress: Progress) -> None:
            runs.update_run(
                store,
                args.run_id,
                step=progress.step,
                total_steps=progress.total_steps,
                loss=progress.loss,
                eta_s=progress.eta_s,
            )
            runs.heartbeat(store, args.run_id)

        def should_stop() -> bool:
            return runs.cancel_requested(store, args.run_id)

    result = train_sft(
        args.base,
        args.data,
        args.out,
        LoraTrainingConfig(**fields),
        on_progress=on_progress,
        should_stop=should_stop,
    )
    print(
        json.dumps(
            {key: str(value) if isinstance(value, Path) else value for key, value in asdict(result).items()}
        )
    )
    if result.cancelled:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
