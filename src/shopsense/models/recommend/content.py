"""Content-based recommendation from item texts embedded by a sentence-transformer.

Lops, de Gemmis & Semeraro, "Content-based recommender systems: state of the art and
trends", Recommender Systems Handbook, 2011: a user profile built from the
representations of the items the user liked, items ranked by their similarity to it.
The item representation is a sentence embedding of the item's text (title,
description, attribute names): Reimers & Gurevych, "Sentence-BERT: Sentence embeddings
using Siamese BERT-networks", EMNLP 2019, with the all-MiniLM-L6-v2 model (Wang et al.,
"MiniLM: Deep self-attention distillation for task-agnostic compression of pre-trained
transformers", NeurIPS 2020); see :mod:`shopsense.models.text`.

Needing no interactions for an item, it recommends items nobody has bought yet (cold
items), gives unknown visitors with one viewed item a list, and its
:attr:`ContentRecommender.item_embeddings` are a feature for re-ranking.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    check_histories,
    history_matrix,
    model_params,
    save_weights,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
    top_n,
    write_manifest,
)
from shopsense.models.text import MINILM_NAME, Float32Array, make_encoder

logger = logging.getLogger(__name__)

# Items without text rank after every item with one (cosines are >= -1, plus the prior).
NO_TEXT_OFFSET = -3.0

MISSING_TEXT_HELP = (
    "the content model needs item texts (title and/or description) to embed: attach an "
    "ItemCatalog with text to the interactions (Interactions.with_catalog("
    "ItemCatalog.from_mappings(item_ids, text={item_id: title})), or import the items "
    "with a title/description column ('shopsense import csv items.csv --kind items') "
    "before training"
)


class ContentRecommender(ArrayArtifacts, ScoringRecommender):
    """Items ranked by the cosine of their text embedding with the user's profile.

    ``fit`` embeds ``interactions.catalog.text`` (unit vectors; an item with an empty
    text gets a zero vector and ``has_text_`` False) and counts each item's interactions.
    A history's profile is the recency-weighted mean of its items' embeddings (the item
    ``k`` steps before the newest weighs ``0.5 ** (k / history_half_life_items)``); an
    item scores ``cos(profile, e_i) + popularity_weight * prior_i`` with the popularity
    prior ``prior_i = log(1 + n_i) / log(1 + max_j n_j)`` in ``[0, 1]``. Items with no
    text follow every item with one, by popularity; a history without any embedded item
    (empty, or only items without text) gets the most popular items. An item with a text
    but no interactions is scored like any other: cold items are recommendable.

    Parameters
    ----------
    history_half_life_items:
        Recency half-life of the history, in items; ``None`` weighs the history evenly.
    popularity_weight:
        Weight of the popularity prior added to the cosine (0 = pure content). Cosines
        of related items differ by a few hundredths, so 0.05-0.2 already reorders them.
        The default 0.1 helped on the validation splits of both seq-loo (Amazon Beauty)
        and retail-temporal-new (docs/models-content.md); cold items are still listed
        when their text is close enough.
    encoder:
        The text encoder (a name of :data:`shopsense.models.text.TEXT_ENCODERS`), only
        used by ``fit``: a loaded model scores from its saved embeddings.
    device:
        Where ``fit`` runs the encoder: ``"auto"`` (CUDA when available), ``"cpu"``, ...

    Attributes
    ----------
    item_embeddings_:
        float32 ``[n_items, dim]``, unit rows (zero for items without text).
    has_text_:
        bool ``[n_items]``, whether the item had a text to embed.
    popularity_:
        float64 ``[n_items]``, interaction weight summed per item, for the prior and the
        fallbacks.
    """

    name: ClassVar[str] = "content"
    learned: ClassVar[tuple[str, ...]] = ("item_embeddings_", "has_text_", "popularity_")
    item_embeddings_: Float32Array | None = None
    has_text_: npt.NDArray[np.bool_] | None = None
    popularity_: FloatArray | None = None

    def __init__(
        self,
        *,
        history_half_life_items: float | None = 3.0,
        popularity_weight: float = 0.1,
        encoder: str = MINILM_NAME,
        device: str = "auto",
    ) -> None:
        self.history_half_life_items = history_half_life_items
        self.popularity_weight = popularity_weight
        self.encoder = encoder
        self.device = device

    def fit(self, interactions: Interactions) -> Self:
        """Embed every item's text and count interactions per item."""
        if self.history_half_life_items is not None and self.history_half_life_items <= 0:
            raise ConfigurationError(
                f"history_half_life_items must be positive, got {self.history_half_life_items}"
            )
        if self.popularity_weight < 0:
            raise ConfigurationError(
                f"popularity_weight must be >= 0, got {self.popularity_weight}"
            )
        catalog = interactions.catalog
        if catalog is None or not catalog.has_text:
            what = "no item catalog" if catalog is None else "a catalog without any text"
            raise ConfigurationError(
                f"these interactions carry {what}; {MISSING_TEXT_HELP}",
                details={"n_items": interactions.n_items},
            )
        texts = np.char.strip(catalog.text.astype(str))
        has_text = np.char.str_len(texts) > 0
        started = time.perf_counter()
        embedded = embed_texts(self.encoder, self.device, tuple(texts[has_text].tolist()))
        logger.info(
            "content: embedded %d item texts (%d items without) in %.1f s",
            int(has_text.sum()),
            int((~has_text).sum()),
            time.perf_counter() - started,
        )
        embeddings = np.zeros((interactions.n_items, embedded.shape[1]), dtype=np.float32)
        embeddings[has_text] = embedded
        self.item_embeddings_ = embeddings
        self.has_text_ = has_text
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=interactions.weights, minlength=interactions.n_items
        ).astype(np.float64)
        return self

    @property
    def item_embeddings(self) -> Float32Array:
        """float32 ``[n_items, dim]``: each item's unit text embedding (zero rows for
        items without text), e.g. as a re-ranking feature."""
        check_fitted(self, "item_embeddings_")
        assert self.item_embeddings_ is not None
        return self.item_embeddings_

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        assert self.item_embeddings_ is not None
        weights = history_matrix(
            histories, len(self.item_embeddings_), self.history_half_life_items
        )
        # The weighted mean's denominator does not change a cosine: the sum will do.
        profiles = np.asarray(weights @ self.item_embeddings_, dtype=np.float32)
        return self._scores(profiles, self.popularity_weight)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The items whose texts are closest (cosine) to each item's, never the item
        itself; items without text follow, by popularity. An item without text gets the
        most popular items."""
        check_fitted(self, "item_embeddings_")
        assert self.item_embeddings_ is not None
        codes = np.asarray(item_codes, dtype=np.int64)
        check_histories([codes], len(self.item_embeddings_))
        scores = self._scores(self.item_embeddings_[codes], 0.0)
        return top_n(scores, n, histories=[np.array([code]) for code in codes.tolist()])

    def _scores(self, profiles: Float32Array, popularity_weight: float) -> FloatArray:
        """Scores ``(len(profiles), n_items)``: cosine plus prior for items with text,
        prior + ``NO_TEXT_OFFSET`` for those without, the prior alone for zero profiles."""
        assert self.item_embeddings_ is not None
        assert self.has_text_ is not None and self.popularity_ is not None
        prior = np.log1p(self.popularity_) / max(float(np.log1p(self.popularity_.max())), 1e-12)
        norms = np.linalg.norm(profiles, axis=1)
        unit = profiles / np.where(norms > 0, norms, 1.0)[:, np.newaxis]
        cosine = (unit @ self.item_embeddings_.T).astype(np.float64)
        scores = np.where(
            self.has_text_[np.newaxis, :],
            cosine + popularity_weight * prior[np.newaxis, :],
            prior[np.newaxis, :] + NO_TEXT_OFFSET,
        )
        scores[norms == 0] = prior
        return scores

    def save(self, directory: Path) -> None:
        """Write ``weights.npz`` (embeddings, text flags, popularity) and
        ``manifest.json``, which names the encoder and the embedding size."""
        check_fitted(self, "item_embeddings_")
        assert self.item_embeddings_ is not None
        assert self.has_text_ is not None and self.popularity_ is not None
        save_weights(
            directory,
            item_embeddings=self.item_embeddings_,
            has_text=self.has_text_,
            popularity=self.popularity_,
        )
        write_manifest(
            directory,
            self.name,
            model_params(self),
            encoder=self.encoder,
            embedding_dim=int(self.item_embeddings_.shape[1]),
        )


@functools.lru_cache(maxsize=1)
def embed_texts(encoder: str, device: str, texts: tuple[str, ...]) -> Float32Array:
    """``texts`` embedded by the encoder named ``encoder`` (read-only). The last call is
    remembered, so that a parameter search refitting on the same catalog embeds it once."""
    embedded = make_encoder(encoder, device=device).encode(list(texts))
    embedded.setflags(write=False)
    return embedded
