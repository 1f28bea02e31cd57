"""LoRA SFT throughput: our ``train_sft`` against a plain TRL ``SFTTrainer`` run of the same
model, data and LoRA config, measured in the same run (tokens per second of the training loop).

The data: Bitext questions, each prompted with its demo article as the source exactly as the
assistant serves it, and Bitext's reference answer as the completion.

Run: ``python -m eval.bench_training [--rows 64] [--steps 8] [--json] [--out FILE]``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import frontmatter
from datasets import Dataset, DatasetDict

from assistant.config import DEFAULT_GENERATOR, Settings
from assistant.generation.local import resolve_weights
from assistant.generation.prompts import build_messages
from assistant.types import Chunk, Hit
from eval.bench_cli import emit, parse_args
from training.lora import QUIET_RUN, LoraTrainingConfig, device_options, load_tokenizer, train_sft
from training.public_data import bitext_questions, demo_kb

CONFIG = LoraTrainingConfig(r=8, alpha=16, batch_size=4, max_length=512, learning_rate=2e-4)


def sft_rows(count: int) -> list[dict]:
    articles = {}
    for path in sorted(demo_kb().glob("*.md")):
        page = frontmatter.load(path)
        title = page.content.splitlines()[0].lstrip("# ").strip()
        articles[page["id"]] = Chunk(f"{page['id']}#0", page["id"], title, path.name, page.content[:1200])
    rows = []
    for item in bitext_questions(seed=1):
        if item.doc_id in articles:
            rows.append(
                {
                    "prompt": build_messages(item.question, [Hit(articles[item.doc_id], 0.9)], []),
                    "completion": [{"role": "assistant", "content": item.reference}],
                }
            )
        if len(rows) == count:
            return rows
    return rows


def plain_trl(base: str, data: Dataset, steps: int, work: Path) -> tuple[float, int]:
    """The baseline: TRL's SFTTrainer configured by hand with the same LoRA and schedule."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
        args=SFTConfig(
            output_dir=str(work),
            max_steps=steps,
            per_device_train_batch_size=CONFIG.batch_size,
            learning_rate=CONFIG.learning_rate,
            max_length=CONFIG.max_length,
            seed=CONFIG.seed,
            **QUIET_RUN,
            **device_options(),
        ),
        train_dataset=data,
        processing_class=load_tokenizer(base),
        peft_config=LoraConfig(
            r=CONFIG.r,
            lora_alpha=CONFIG.alpha,
            lora_dropout=CONFIG.dropout,
            target_modules=list(CONFIG.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    output = trainer.train()
    return float(output.metrics["train_runtime"]), tokens


def run(rows: int, steps: int, repeats: int, cache_dir: Path | None = None) -> dict:
    base = resolve_weights(DEFAULT_GENERATOR, cache_dir or Settings(_env_file=None).model_cache_dir)
    data = Dataset.from_list(sft_rows(rows))
    per_step = CONFIG.batch_size / len(data)  # share of one pass a step consumes
    baseline, ours = [], []
    with tempfile.TemporaryDirectory() as work:
        for attempt in range(repeats):  # alternate, so drift in machine load hits both alike
            seconds, tokens = plain_trl(base, data, steps, Path(work) / f"plain{attempt}")
            baseline.append(tokens * per_step * steps / seconds)
            config = LoraTrainingConfig(**{**CONFIG.__dict__, "max_steps": steps})
            result = train_sft(base, DatasetDict({"train": data}), Path(work) / f"ours{attempt}", config)
            ours.append(result.dataset_tokens * per_step * steps / result.train_runtime_s)
    best_base, best_ours = max(baseline), max(ours)
    return {
        "rows": len(data),
        "steps": steps,
        "batch_size": CONFIG.batch_size,
        "max_length": CONFIG.max_length,
        "lora_r": CONFIG.r,
        "baseline_tokens_per_s": round(best_base, 1),
        "ours_tokens_per_s": round(best_ours, 1),
        "ratio": round(best_ours / best_base, 3),
        "runs": {"baseline": [round(x, 1) for x in baseline], "ours": [round(x, 1) for x in ours]},
        "measured_at": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--rows": {"type": int, "default": 64, "help": "SFT examples"},
            "--steps": {"type": int, "default": 12, "help": "optimizer steps per run"},
            "--repeats": {"type": int, "default": 3, "help": "alternating runs of each"},
            "--cache-dir": {"type": Path, "default": None, "help": "model cache (default: the data home's)"},
        },
    )
    report = run(args.rows, args.steps, args.repeats, args.cache_dir)
    if emit(report, args):
        print(
            f"LoRA SFT, {report['rows']} rows, {report['steps']} steps of {report['batch_size']}: "
            f"plain TRL {report['baseline_tokens_per_s']} tokens/s, "
            f"ours {report['ours_tokens_per_s']} tokens/s ({report['ratio']:.2f}x)"
        )


if __name__ == "__main__":
    main()
