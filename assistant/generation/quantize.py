"""The CPU fast path: SmoothQuant-style smoothing, then int8 dynamic quantisation of linear layers.

Plain dynamic int8 quantises each activation matrix with one scale, so the few channels with
huge activations (small LLMs have them) wipe out the precision of all the others and answers
drift. Smoothing first moves that range into the weights (``x·W = (x/s)·(s·W)``, exact in
fp32), folding ``1/s`` into the preceding RMSNorm (q/k/v, gate/up) or into ``up_proj``
(down_proj). The very first token carries much larger activations still; the local
generator therefore computes the prompt's first message in fp32 (and caches it).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn
from transformers import PreTrainedModel

from assistant.generation.prompts import build_messages
from assistant.types import Chunk, Hit

_SMOOTHABLE = {"llama", "mistral", "qwen2", "qwen3"}  # RMSNorm scales by `weight`, not `1 + weight`
SMOOTHING_ALPHA = 0.7  # best of 0.3/0.5/0.7/0.8/0.9 on greedy agreement with fp32 (SmolLM2-135M)

_CALIBRATION_SOURCES = [
    (
        "Cancel an order",
        "You can cancel an order from your order details page by clicking 'Cancel Order' "
        "before it ships. Refunds reach your card within 5-7 business days.",
    ),
    (
        "Shipping addresses",
        "Change your shipping address under 'My Account' > 'Shipping Addresses'. "
        "Orders that have shipped cannot be redirected.",
    ),
    (
        "Payment methods",
        "We accept credit cards, PayPal and bank transfers; invoices are in your order history.",
    ),
]
_CALIBRATION_ANSWER = (
    "Yes. Open the order details page and click 'Cancel Order' before it ships [1]. "
    "The refund reaches your card within 5-7 business days [1]."
)


def _calibration_messages() -> list[dict[str, str]]:
    """A typical conversation (the real prompt format) to measure activation ranges on."""
    hits = [
        Hit(Chunk(f"calibration-{n}", f"calibration-{n}", title, "", text), 1.0)
        for n, (title, text) in enumerate(_CALIBRATION_SOURCES)
    ]
    question = "I ordered the wrong size yesterday, can I still cancel it and get my money back?"
    return [*build_messages(question, hits, []), {"role": "assistant", "content": _CALIBRATION_ANSWER}]


def quantize_for_cpu(model: PreTrainedModel, tokenizer) -> nn.Module:
    """An int8 copy of ``model`` for fast CPU inference; ``model`` itself is left unchanged.

    Llama-style decoders (SmolLM2, Llama, Qwen2/3, Mistral) are smoothed first; other
    architectures get plain per-channel dynamic quantisation. The token embedding stays fp32
    and is shared with ``model``.
    """
    quantized = copy.deepcopy(model)
    layers = getattr(getattr(quantized, "model", None), "layers", None)
    model_type = getattr(model.config, "model_type", "")
    if model_type in _SMOOTHABLE and layers is not None and all(_is_llama_block(layer) for layer in layers):
        ids = tokenizer.apply_chat_template(_calibration_messages(), return_dict=True, return_tensors="pt")[
            "input_ids"
        ]
        _smooth(quantized, layers, ids, SMOOTHING_ALPHA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        quantize_dynamic(quantized, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    quantized.set_input_embeddings(model.get_input_embeddings())
    return quantized


def _is_llama_block(layer: nn.Module) -> bool:
    names = (
        "input_layernorm",
        "post_attention_layernorm",
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "mlp.gate_proj",
        "mlp.up_proj",
        "mlp.down_proj",
    )
    modules = dict(layer.named_modules())
    return all(name in modules for name in names)


@torch.no_grad()
def _smooth(model: nn.Module, layers: nn.ModuleList, input_ids: torch.Tensor, alpha: float) -> None:
    peaks: dict[nn.Module, torch.Tensor] = {}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        x = inputs[0].reshape(-1, inputs[0].shape[-1])[1:]  # the first token is served in fp32
        peak = x.abs().amax(0)
        peaks[module] = torch.maximum(peaks[module], peak) if module in peaks else peak

    watched = [
        _linear(layer, name)
        for layer in layers
        for name in ("self_attn.q_proj", "mlp.gate_proj", "mlp.down_proj")
    ]
    hooks = [m.register_forward_hook(record) for m in watched]
    try:
        model(input_ids=input_ids, use_cache=False)
    finally:
        for hook in hooks:
            hook.remove()

    def scales(peak: torch.Tensor, linears: list[nn.Linear]) -> torch.Tensor:
        weight_peak = torch.cat([lin.weight.abs() for lin in linears]).amax(0)
        return (peak.clamp(min=1e-5) ** alpha / weight_peak.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)

    for layer in layers:
        q, k, v = (_linear(layer, f"self_attn.{name}") for name in ("q_proj", "k_proj", "v_proj"))
        gate, up, down = (_linear(layer, f"mlp.{name}") for name in ("gate_proj", "up_proj", "down_proj"))
        s = scales(peaks[q], [q, k, v])
        layer.get_parameter("input_layernorm.weight").div_(s)
        for lin in (q, k, v):
            lin.weight.mul_(s)
        s = scales(peaks[gate], [gate, up])
        layer.get_parameter("post_attention_layernorm.weight").div_(s)
        for lin in (gate, up):
            lin.weight.mul_(s)
        s = scales(peaks[down], [down])
        up.weight.div_(s[:, None])
        down.weight.mul_(s)


def _linear(layer: nn.Module, name: str) -> nn.Linear:
    """The linear submodule at dotted ``name`` (attribute access on a Module is typed ``Tensor | Module``)."""
    module = layer.get_submodule(name)
    assert isinstance(module, nn.Linear), f"{name} is a {type(module).__name__}, not a Linear"
    return module
