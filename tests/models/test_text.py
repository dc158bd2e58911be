"""The text encoder: the real packaged all-MiniLM-L6-v2, loaded offline, on the CPU."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError
from shopsense.models.text import (
    MINILM_NAME,
    MiniLMEncoder,
    TextEncoder,
    default_encoder,
    make_encoder,
)

TEXTS = [
    "red wine glass",
    "set of six wine glasses",
    "garden spade with an ash handle",
    "children's birthday party balloons",
]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder(device="cpu", batch_size=2)


def test_embeddings_are_unit_float32_rows(encoder: MiniLMEncoder) -> None:
    embeddings = encoder.encode(TEXTS)
    assert embeddings.shape == (len(TEXTS), 384) == (len(TEXTS), encoder.dim)
    assert embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_encoding_is_deterministic(encoder: MiniLMEncoder) -> None:
    assert np.array_equal(encoder.encode(TEXTS), encoder.encode(TEXTS))


def test_related_texts_are_closer_than_unrelated(encoder: MiniLMEncoder) -> None:
    embeddings = encoder.encode(TEXTS)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > 0.5
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    assert similarity[0, 1] > similarity[0, 3] + 0.3


def test_no_texts_give_an_empty_matrix(encoder: MiniLMEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_encoders_are_made_by_name() -> None:
    made = make_encoder(MINILM_NAME, device="cpu")
    assert isinstance(made, TextEncoder)
    assert made.name == MINILM_NAME == default_encoder().name
    with pytest.raises(ConfigurationError, match="unknown text encoder"):
        make_encoder("word2vec")
    with pytest.raises(ConfigurationError, match="batch_size"):
        MiniLMEncoder(batch_size=0)


def test_importing_loads_no_model() -> None:
    code = (
        "import sys, shopsense.models.text, shopsense.models.recommend; "
        "sys.exit('torch' in sys.modules or 'sentence_transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
