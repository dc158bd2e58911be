"""The content model on a tiny shop with the real all-MiniLM-L6-v2 (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import ContentRecommender, make_recommender
from shopsense.models.recommend.base import MANIFEST

TEXTS = {
    "tea-cup": "porcelain tea cup",
    "teapot": "ceramic teapot",
    "tea-mug": "stoneware tea mug",
    "tea-caddy": "loose leaf tea caddy",
    "spade": "garden spade",
    "trowel": "steel garden trowel",
    "rake": "garden rake",
    "wine-glass": "red wine glass",
    "wine-glasses": "set of six wine glasses",
    "bag": "brown paper gift bag",
    "mystery": "",  # no text: never embedded
    "new-tea-set": "porcelain tea set with cups and a teapot",  # cold: nobody bought it
}
BOUGHT = [
    ("anna", ["tea-cup", "teapot", "bag"]),
    ("ben", ["tea-mug", "tea-caddy", "tea-cup"]),
    ("cleo", ["spade", "trowel", "bag", "mystery"]),
    ("dan", ["rake", "spade", "bag"]),
    ("eve", ["wine-glass", "bag", "mystery"]),
]
ITEMS = np.array(sorted(TEXTS), dtype=str)


def shop(*, texts: dict[str, str] | None = TEXTS) -> Interactions:
    users = [user for user, items in BOUGHT for _ in items]
    items = [item for _, bought in BOUGHT for item in bought]
    times = list(range(1_700_000_000, 1_700_000_000 + len(items)))
    interactions = Interactions.from_arrays(users, items, times, item_vocabulary=ITEMS)
    if texts is None:
        return interactions
    return interactions.with_catalog(ItemCatalog.from_mappings(ITEMS, text=texts))


def code(item: str) -> int:
    return ITEMS.tolist().index(item)


def codes(*items: str) -> np.ndarray:
    return np.array([code(item) for item in items], dtype=np.int64)


@pytest.fixture(scope="module")
def fitted() -> ContentRecommender:
    return ContentRecommender(device="cpu").fit(shop())


def test_cold_item_with_text_is_recommended_on_topic(fitted: ContentRecommender) -> None:
    assert fitted.popularity_ is not None
    assert fitted.popularity_[code("new-tea-set")] == 0
    recs = fitted.recommend([codes("tea-cup", "teapot")], 3)
    assert code("new-tea-set") in recs.items[0]
    assert set(recs.items[0].tolist()) <= set(codes("tea-mug", "tea-caddy", "new-tea-set"))


def test_similar_items_are_the_textually_closest(fitted: ContentRecommender) -> None:
    similar = fitted.similar_items(codes("wine-glass", "spade"), 2)
    assert similar.items[0, 0] == code("wine-glasses")
    assert set(similar.items[1].tolist()) == set(codes("trowel", "rake"))


def test_items_without_text_have_no_embedding_and_rank_last(fitted: ContentRecommender) -> None:
    embeddings = fitted.item_embeddings
    assert embeddings.dtype == np.float32 and embeddings.shape == (len(ITEMS), 384)
    assert fitted.has_text_ is not None
    assert fitted.has_text_.tolist() == [bool(TEXTS[item]) for item in ITEMS.tolist()]
    norms = np.linalg.norm(embeddings, axis=1)
    assert np.allclose(norms[fitted.has_text_], 1.0, atol=1e-5)
    assert np.all(norms[~fitted.has_text_] == 0)
    recs = fitted.recommend([codes("spade")], len(ITEMS))
    assert recs.items[0, len(ITEMS) - 2] == code("mystery")  # last but the padding


def test_history_of_items_without_text_gets_popular_items(fitted: ContentRecommender) -> None:
    recs = fitted.recommend([codes("mystery"), codes()], 1)
    assert recs.items[:, 0].tolist() == [code("bag"), code("bag")]


def test_popularity_prior_lifts_bought_items() -> None:
    pure = ContentRecommender(device="cpu", popularity_weight=0.0).fit(shop())
    blended = ContentRecommender(device="cpu", popularity_weight=1.0).fit(shop())
    history = [codes("tea-cup", "teapot")]
    assert code("new-tea-set") in pure.recommend(history, 1).items[0]
    assert code("new-tea-set") not in blended.recommend(history, 2).items[0]


@pytest.mark.parametrize("texts", [None, {}])
def test_no_texts_is_a_configuration_error(texts: dict[str, str] | None) -> None:
    with pytest.raises(ConfigurationError, match="needs item texts") as caught:
        ContentRecommender(device="cpu").fit(shop(texts=texts))
    assert "with_catalog" in str(caught.value)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="history_half_life_items"):
        ContentRecommender(history_half_life_items=0.0).fit(shop())
    with pytest.raises(ConfigurationError, match="popularity_weight"):
        ContentRecommender(popularity_weight=-1.0).fit(shop())
    with pytest.raises(ConfigurationError, match="unknown text encoder"):
        ContentRecommender(encoder="word2vec").fit(shop())


def test_save_load_scores_without_the_encoder(
    fitted: ContentRecommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted.save(tmp_path / "content")
    manifest = json.loads((tmp_path / "content" / MANIFEST).read_text())
    assert manifest["encoder"] == "all-MiniLM-L6-v2" and manifest["embedding_dim"] == 384

    def no_encoder(*args: object, **kwargs: object) -> None:
        raise AssertionError("a loaded content model must not need the encoder")

    monkeypatch.setattr("shopsense.models.recommend.content.make_encoder", no_encoder)
    loaded = ContentRecommender.load(tmp_path / "content")
    histories = [codes("tea-cup"), codes("rake", "wine-glass"), codes()]
    assert np.array_equal(loaded.score_histories(histories), fitted.score_histories(histories))
    assert np.array_equal(loaded.item_embeddings, fitted.item_embeddings)


def test_registered_as_content() -> None:
    assert isinstance(make_recommender("content", device="cpu"), ContentRecommender)
