"""Questions embedded by ONNX Runtime: the sentence-transformers model exported once, run in one call.

Use it for the questions a CPU server embeds while it answers. A torch forward pass takes
the GIL back between each of its ~hundred operations, so while other threads of a busy
server run Python, a 13 ms question encode stretches to 40-90 ms (measured under 200 chat
sessions). ONNX Runtime runs the whole pass in one call that releases the GIL, and on one
thread it is ~3x faster than torch on an idle machine too. Chunks (large batches, ingestion)
stay on torch, which uses every core for them.

The export is checked against torch on probe sentences: a model that does not export
faithfully is not used (:func:`export_questions_encoder` returns ``None`` and the caller keeps
torch), so the index and the questions are always embedded alike.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# the exported model must match torch to float noise on these (batch of mixed lengths included)
PROBES = [
    "How do I reset my password?",
    "Refund",
    "Where is my parcel? It was due on Monday and has not arrived.",
]
TOLERANCE = 1e-4


class OnnxQuestionEncoder:
    """A sentence-transformers model run by ONNX Runtime on the calling thread (one intra-op thread)."""

    def __init__(self, onnx_model: bytes, input_names: Sequence[str]) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # runs on the caller's thread: no pool to wake or oversubscribe
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
        self._input_names = list(input_names)

    def embed(self, features: Mapping[str, torch.Tensor]) -> np.ndarray:
        """L2-normalised float32 embeddings of texts the model has tokenized (``model.preprocess``)."""
        inputs = {name: features[name].numpy().astype(np.int64) for name in self._input_names}
        (vectors,) = self._session.run(["embedding"], inputs)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def export_questions_encoder(model: SentenceTransformer) -> OnnxQuestionEncoder | None:
    """``model`` (a CPU SentenceTransformer) exported to ONNX, or ``None`` if it cannot be, faithfully.

    Takes about a second for a MiniLM-sized model; nothing is written to disk.
    """
    try:
        encoder = _export(model)
        expected = model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
        difference = float(np.abs(encoder.embed(model.preprocess(PROBES)) - expected).max())
    except Exception as error:  # noqa: BLE001 - any exporter or runtime failure leaves torch in charge
        logger.warning("questions will be embedded with torch: ONNX export failed (%s)", error)
        return None
    if difference > TOLERANCE:
        logger.warning("questions will be embedded with torch: the ONNX export differs by %.2g", difference)
        return None
    return encoder


def _export(model: SentenceTransformer) -> OnnxQuestionEncoder:
    import torch

    sample = model.preprocess(PROBES[:1])
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class SentenceEmbedding(torch.nn.Module):
        """The whole pipeline (transformer, pooling, any dense or normalising layers) as one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(input_names, inputs, strict=True)))["sentence_embedding"]

    buffer = io.BytesIO()
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "tokens"} for name in input_names}
    # The TorchScript-based exporter: about a second, and it needs only the `onnx` package
    # (the dynamo exporter would add onnxscript and takes far longer for this graph).
    with warnings.catch_warnings():
        # The tracer warns about every shape-dependent branch and indexing it records; the
        # probes in export_questions_encoder check that the graph holds for other shapes.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            SentenceEmbedding().eval(),
            tuple(sample[name] for name in input_names),
            buffer,  # type: ignore[arg-type]  # torch types `f` as a path, but this exporter takes a file too
            input_names=input_names,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return OnnxQuestionEncoder(buffer.getvalue(), input_names)
