"""Tuning on the validation split: search spaces, determinism, the test part untouched,
errors, and the ``tune`` -> ``evaluate --params-file`` round trip of the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from shopsense.cli import app
from shopsense.core.errors import ConfigurationError
from shopsense.evaluation.protocols import Split, ml100k
from shopsense.evaluation.tuning import (
    SEARCH_SPACES,
    TuningResult,
    primary_metric,
    read_tuned_params,
    tune,
)
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.registry import RECOMMENDERS, recommender_params

runner = CliRunner()


@pytest.fixture(scope="module")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A u.data file with planted structure: 90 users in three taste groups of 15 items,
    12 ratings each, plus a popular item everyone rates."""
    rng = np.random.default_rng(11)
    lines = []
    for user in range(1, 91):
        group = (user - 1) % 3
        items = rng.choice(np.arange(1, 16) + 15 * group, size=11, replace=False).tolist()
        for day, item in enumerate([*items, 46]):
            lines.append(f"{user}\t{item}\t5\t{880_000_000 + 86_400 * day + user}")
    path = tmp_path_factory.mktemp("ml") / "u.data"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def split(ratings: Path) -> Split:
    return ml100k(ratings)


def comparable(result: TuningResult) -> dict[str, Any]:
    """A tuning result without its timings."""
    content = result.to_dict()
    for trial in content["trials"]:
        del trial["seconds"]
    return content


def test_every_registered_model_has_a_search_space_over_its_parameters() -> None:
    missing = sorted(set(RECOMMENDERS) - set(SEARCH_SPACES))
    assert not missing, f"add a search space for {missing} to SEARCH_SPACES"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for name, space in SEARCH_SPACES.items():
        for _ in range(5):
            params = space(study.ask())
            unknown = set(params) - set(recommender_params(name))
            assert not unknown, f"{name}'s space sets unknown parameters {unknown}"


def test_primary_metric_is_the_first_ndcg(split: Split) -> None:
    assert primary_metric(split) == "NDCG@10"
    assert primary_metric(("Recall@20", "NDCG@20", "HR@20")) == "NDCG@20"
    assert primary_metric(("HR@10",)) == "HR@10"


@pytest.mark.parametrize("name", ["ease", "item-knn"])
def test_tuning_is_deterministic_for_a_seed(split: Split, name: str) -> None:
    first = tune(name, split, trials=4, seed=3)
    again = tune(name, split, trials=4, seed=3)
    assert comparable(first) == comparable(again)
    assert len(first.trials) == 4
    assert first.metric == "NDCG@10"
    assert first.best_value == max(trial["value"] for trial in first.trials)
    assert first.split["users_evaluated"] == split.validation.n_users  # type: ignore[union-attr]
    other = tune(name, split, trials=4, seed=4)
    assert [t["params"] for t in other.trials] != [t["params"] for t in first.trials]


def test_tuning_never_reads_the_test_part(split: Split) -> None:
    """A split whose test part is garbage (another training set, wrong histories and
    truth) tunes exactly as the real one: only the validation part counts."""
    assert split.validation is not None
    rng = np.random.default_rng(0)
    garbage_train = Interactions.from_arrays(["x"], [split.item_ids[0]], [0])
    garbage = replace(
        split,
        train=garbage_train,
        histories=[np.array([], dtype=np.int64) for _ in range(split.n_users)],
        truth=[rng.integers(0, split.n_items, size=1) for _ in range(split.n_users)],
    )
    real = tune("ease", split, trials=3, seed=1)
    fake = tune("ease", garbage, trials=3, seed=1)
    assert comparable(real) == comparable(fake)


def test_fixed_parameters_are_not_searched(split: Split) -> None:
    result = tune("item-knn", split, trials=3, seed=0, fixed={"similarity": "bm25"})
    assert all(trial["params"]["similarity"] == "bm25" for trial in result.trials)
    assert all("bm25_k1" in trial["params"] for trial in result.trials)
    assert result.best_params["similarity"] == "bm25"
    assert result.fixed_params == {"similarity": "bm25"}
    off = tune("popular", split, trials=2, seed=0, fixed={"half_life_days": None})
    assert all(trial["params"]["half_life_days"] is None for trial in off.trials)


def test_a_non_ndcg_metric_is_added_to_the_scored_ones(split: Split) -> None:
    result = tune("popular", split, trials=1, metric="HR@5")
    assert result.metric == "HR@5"
    assert result.trials[0]["value"] == result.trials[0]["metrics"]["HR@5"]


def test_clear_errors(split: Split) -> None:
    with pytest.raises(ConfigurationError, match="unknown recommender 'nope'"):
        tune("nope", split, trials=1)
    with pytest.raises(ConfigurationError, match="unknown metric"):
        tune("ease", split, trials=1, metric="NDCG@ten")
    with pytest.raises(ConfigurationError, match="unknown metric"):
        tune("ease", split, trials=1, metric="F1@10")
    with pytest.raises(ConfigurationError, match="novelty"):
        tune("ease", split, trials=1, metric="novelty@10")
    with pytest.raises(ConfigurationError, match="no parameter"):
        tune("ease", split, trials=1, fixed={"lambda": 3})
    with pytest.raises(ConfigurationError, match="no validation"):
        tune("ease", replace(split, validation=None), trials=1)
    with pytest.raises(ConfigurationError, match="cannot tune item-knn with the fixed"):
        tune("item-knn", split, trials=1, fixed={"similarity": "jaccard"})
    with pytest.raises(ConfigurationError, match="log=True"):
        tune("ease", split, trials=3, fixed={"l2": -1.0})
    with pytest.raises(ConfigurationError, match="max_items"):  # the model's own error
        tune("ease", split, trials=3, fixed={"max_items": 2})


def test_read_tuned_params_checks_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_tuned_params(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"metrics": {}}))
    with pytest.raises(ConfigurationError, match="not a tuning result"):
        read_tuned_params(tmp_path / "other.json")
    (tmp_path / "ease.json").write_text(json.dumps({"model": "ease", "best_params": {"l2": 3}}))
    assert read_tuned_params(tmp_path / "ease.json", model="ease") == {"l2": 3}
    with pytest.raises(ConfigurationError, match="tuned for 'ease', not 'als'"):
        read_tuned_params(tmp_path / "ease.json", model="als")


def test_cli_tune_then_evaluate_with_the_tuned_params(ratings: Path, tmp_path: Path) -> None:
    tuned = tmp_path / "ease-tuned.json"
    result = runner.invoke(
        app,
        [
            "--log-level",
            "WARNING",
            "tune",
            "--protocol",
            "ml100k",
            "--dataset",
            str(ratings),
            "--model",
            "ease",
            "--trials",
            "3",
            "--param",
            "max_items=5000",
            "--out",
            str(tuned),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "validation split" in result.output
    content = json.loads(tuned.read_text())
    assert content["model"] == "ease"
    assert content["metric"] == "NDCG@10"
    assert content["best_params"]["max_items"] == 5000
    assert content["fixed_params"] == {"max_items": 5000}
    assert len(content["trials"]) == 3

    scored = tmp_path / "ease.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--protocol",
            "ml100k",
            "--dataset",
            str(ratings),
            "--model",
            "ease",
            "--params-file",
            str(tuned),
            "--param",
            "max_items=6000",
            "--json",
            str(scored),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    evaluation = json.loads(scored.read_text())
    assert evaluation["params"] == {**content["best_params"], "max_items": 6000}
    assert evaluation["params_file"] == str(tuned)
    assert evaluation["tuned_params"] == content["best_params"]

    with pytest.raises(ConfigurationError, match="tuned for 'ease'"):
        runner.invoke(
            app,
            [
                "evaluate",
                "--protocol",
                "ml100k",
                "--dataset",
                str(ratings),
                "--model",
                "popular",
                "--params-file",
                str(tuned),
                "--json",
                str(scored),
            ],
            catch_exceptions=False,
        )
