"""Fine-tune the embedder on (question, right passage[, wrong passage]) pairs from the log.

Use :func:`train_retriever` on the ``pairs`` dataset a build wrote (see :mod:`training.datasets`).
It trains with sentence-transformers' ``MultipleNegativesRankingLoss``: every other passage in
the batch is a negative, plus the row's hard negative (a passage cited in a 👎 answer) when it
has one. The no-duplicates batch sampler keeps a passage from being its own in-batch negative.
The result is a complete sentence-transformers model folder: the index must then be re-embedded.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk

from assistant.retrieval.embedder import resolve_embedder_path
from training.defaults import FromSettings, setting
from training.lora import QUIET_RUN, quiet

CONFIG_FILE = "retriever_training_config.json"


@dataclass(frozen=True)
class RetrieverTrainingConfig(FromSettings):
    """How the embedder is tuned; saved beside the model it made.

    Each field mirrors an ``ASSISTANT_RETRIEVER_*`` setting (``seed``: ``ASSISTANT_TRAIN_SEED``)
    and defaults to it; :meth:`~training.defaults.FromSettings.from_settings` reads them from the
    settings.
    """

    epochs: float = setting("retriever_epochs")
    max_steps: int = setting("retriever_max_steps")
    batch_size: int = setting("retriever_batch_size")
    learning_rate: float = setting("retriever_learning_rate")
    warmup_ratio: float = setting("retriever_warmup_ratio")
    seed: int = setting("train_seed")

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class RetrieverResult:
    model_dir: Path
    examples: int
    steps: int
    train_loss: float | None
    seconds: float


def _columns(dataset: Dataset) -> Dataset:
    """anchor, positive, negative: rows without a hard negative borrow another row's passage.

    The loss needs the same columns on every row; a borrowed passage is an ordinary random
    negative (the in-batch ones already are), so hard negatives are kept where they exist.
    """
    pairs = dataset.select_columns(["anchor", "positive"])
    if "negative" not in dataset.column_names or not any(dataset["negative"]):
        return pairs
    positives = dataset["positive"]
    negatives = []
    for i, (positive, negative) in enumerate(zip(positives, dataset["negative"], strict=True)):
        if not negative:
            others = (positives[(i + k) % len(positives)] for k in range(1, len(positives)))
            negative = next((other for other in others if other != positive), "")
        negatives.append(negative)
    if not all(negatives):  # every passage is the same: nothing to contrast with
        return pairs
    return pairs.add_column("negative", negatives)


def train_retriever(
    base_model: str,
    data: Path | DatasetDict,
    out_dir: Path,
    config: RetrieverTrainingConfig | None = None,
) -> RetrieverResult:
    """Tune ``base_model`` (an embedder id or folder) on the pairs in ``data``; save it in ``out_dir``.

    ``config`` defaults to ``RetrieverTrainingConfig()`` (the settings' defaults).
    """
    import torch
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    config = config or RetrieverTrainingConfig()
    splits = load_from_disk(str(data)) if isinstance(data, Path) else data
    train = _columns(splits["train"])
    if len(train) < 2:
        raise ValueError("retriever training needs at least 2 pairs (in-batch negatives)")
    model = SentenceTransformer(resolve_embedder_path(base_model))
    work = out_dir.parent / f".{out_dir.name}.work"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=min(config.batch_size, len(train)),
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        seed=config.seed,
        dataloader_pin_memory=torch.cuda.is_available(),  # pinned memory only helps copies to a GPU
        **QUIET_RUN,
    )
    started = time.monotonic()
    trainer = quiet(
        SentenceTransformerTrainer(
            model=model, args=args, train_dataset=train, loss=MultipleNegativesRankingLoss(model)
        )
    )
    try:
        output = trainer.train()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    config.save(out_dir)
    return RetrieverResult(
        model_dir=out_dir,
        examples=len(train),
        steps=output.global_step,
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        seconds=time.monotonic() - started,
    )
