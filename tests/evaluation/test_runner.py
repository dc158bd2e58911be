"""The runner with a tiny stand-in model, and an independent re-scoring of its dump."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from shopsense.evaluation.protocols import seq_loo
from shopsense.evaluation.runner import evaluate, fit_with_holdout, read_recommendations
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.base import Holdout, Recommendations, top_n

IntArray = npt.NDArray[np.int64]


class CountPopular:
    """Scores every item by its training count (a stand-in for the real models)."""

    name: ClassVar[str] = "count-popular"

    def fit(self, interactions: Interactions) -> Self:
        self.counts_ = np.bincount(interactions.item_codes, minlength=interactions.n_items)
        return self

    def recommend(
        self,
        histories: list[IntArray],
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: IntArray | None = None,
        times: list[IntArray] | None = None,
        now: int | None = None,
    ) -> Recommendations:
        del times, now
        scores = np.tile(self.counts_.astype(np.float64), (len(histories), 1))
        return top_n(scores, n, histories=histories if exclude_seen else None)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path) -> Self:
        raise NotImplementedError


@pytest.fixture
def sequences(tmp_path: Path) -> Path:
    # 30 users over 60 items; item popularity falls with the item id.
    rng = np.random.default_rng(7)
    lines = []
    for user in range(1, 31):
        items = rng.choice(
            np.arange(1, 61),
            size=rng.integers(4, 9),
            replace=False,
            p=np.linspace(2, 0.2, 60) / np.linspace(2, 0.2, 60).sum(),
        )
        lines.append(" ".join([str(user), *map(str, items)]))
    path = tmp_path / "Beauty.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_and_rescore_the_dump(sequences: Path, tmp_path: Path) -> None:
    split = seq_loo(sequences)
    dump = tmp_path / "recs.jsonl"
    result = evaluate(CountPopular, split, batch_size=7, dump_recs=dump)
    assert result.model == "count-popular"
    assert result.n == 20
    assert set(result.metrics) == {"HR@10", "NDCG@10", "HR@20", "NDCG@20"}
    assert result.fit_seconds >= 0 and result.recommend_seconds >= 0
    assert result.split["users_evaluated"] == 30
    assert 0 < result.metrics["HR@20"] <= 1

    # Re-score from the text alone: the original file and the JSON lines.
    lines = [line.split() for line in sequences.read_text().splitlines()]
    target = {fields[0]: fields[-1] for fields in lines}
    history = {fields[0]: set(fields[1:-1]) for fields in lines}
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(records) == 30
    rescored: dict[str, list[float]] = {f"{m}@{k}": [] for m in ("HR", "NDCG") for k in (10, 20)}
    for record in records:
        items = record["items"]
        assert len(items) == 20 and len(set(items)) == 20
        assert not set(items) & history[record["user"]]  # seen items excluded
        rank = items.index(target[record["user"]]) + 1 if target[record["user"]] in items else 0
        for k in (10, 20):
            hit = 0 < rank <= k
            rescored[f"HR@{k}"].append(float(hit))
            rescored[f"NDCG@{k}"].append(1 / math.log2(rank + 1) if hit else 0.0)
    for name, values in rescored.items():
        assert result.metrics[name] == pytest.approx(sum(values) / len(values)), name
    assert read_recommendations(dump)[records[0]["user"]] == records[0]["items"]

    # An instance gives the same numbers as the class; batching does not matter.
    again = evaluate(CountPopular(), split, batch_size=1000)
    assert again.metrics == result.metrics


def test_cli_evaluate(sequences: Path, tmp_path: Path) -> None:
    registry = pytest.importorskip(
        "shopsense.models.recommend.registry",
        reason="the model registry (models/recommend/registry.py) is not there yet",
    )
    if "popular" not in registry.RECOMMENDERS:
        pytest.skip("no 'popular' recommender registered yet")
    from shopsense.cli import app  # noqa: PLC0415

    out, dump = tmp_path / "result.json", tmp_path / "recs.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(tmp_path / "shop"),
            "evaluate",
            "--protocol",
            "seq-loo",
            "--dataset",
            str(sequences),
            "--model",
            "popular",
            "--json",
            str(out),
            "--dump-recs",
            str(dump),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "HR@10" in result.output and "fit seconds" in result.output
    written = json.loads(out.read_text())
    assert written["protocol"] == "seq-loo"
    assert set(written["metrics"]) == {"HR@10", "NDCG@10", "HR@20", "NDCG@20"}
    assert len(dump.read_text().splitlines()) == 30


class RecordsHoldout(CountPopular):
    """CountPopular that remembers the holdout it was given."""

    def fit(self, interactions: Interactions, *, validation: Holdout | None = None) -> Self:
        self.validation = validation
        return super().fit(interactions)


def test_the_protocols_validation_targets_reach_models_that_stop_early(sequences: Path) -> None:
    split = seq_loo(sequences)
    assert split.validation is not None and split.validation.train is split.train
    model = RecordsHoldout()
    fit_with_holdout(model, split)
    assert model.validation is not None
    assert [t.tolist() for t in model.validation.truth] == [
        t.tolist() for t in split.validation.truth
    ]
    assert model.validation.times is split.validation.history_times  # the same clock
    # a validation split with its own (earlier) training data is no holdout of this one
    other = replace(
        split,
        validation=replace(
            split.validation, train=split.train.subset(np.ones(len(split.train), dtype=bool))
        ),
    )
    model = RecordsHoldout()
    fit_with_holdout(model, other)
    assert model.validation is None
