"""Training on a store: evaluate, refit, save, register, promote; failures isolated."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from typer.testing import CliRunner

from shopsense.cli import app
from shopsense.core.errors import ConfigurationError
from shopsense.core.settings import DEFAULT_RECOMMENDERS, Settings, load_settings
from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.registry import RECOMMENDERS, make_recommender
from shopsense.store import Store, open_store
from shopsense.training import BEST_MODEL, data_fingerprint, model_params, train_models
from shopsense.training.recommenders import ITEM_IDS_FILE

MODELS = list(DEFAULT_RECOMMENDERS)
runner = CliRunner()


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated shop, built once and copied for each test."""
    path = tmp_path_factory.mktemp("shop") / "shopsense.duckdb"
    shop = simulate_shop(SimulationConfig(users=300, items=120, days=120, seed=5))
    with open_store(f"duckdb:///{path}") as store:
        write_to_store(shop, store)
    return path


@pytest.fixture
def data_dir(shop_file: Path, tmp_path: Path) -> Path:
    shutil.copy(shop_file, tmp_path / "shopsense.duckdb")
    return tmp_path


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    with open_store(f"duckdb:///{data_dir / 'shopsense.duckdb'}") as opened:
        yield opened


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    # als on one thread: its factors are then the same on every fit
    params = {"als": {"num_threads": 1, "iterations": 5}}
    return load_settings(data_dir=data_dir, recommender_params=params, **overrides)


def artifact(uri: str) -> Path:
    return Path(urlparse(uri).path)


def test_train_registers_promotes_and_saves_loadable_artifacts(
    store: Store, data_dir: Path
) -> None:
    settings = settings_for(data_dir)
    progress: list[tuple[int, int | None]] = []
    run = train_models(store, settings, progress=lambda done, total: progress.append((done, total)))
    assert not run.failed
    assert [model.name for model in run.models] == MODELS
    assert progress[-1] == (len(MODELS), len(MODELS))
    everything = Interactions.from_table(store.interactions(types=["purchase"]))
    # as training does: the catalog (prices, categories) is part of the data
    everything = everything.with_catalog(
        ItemCatalog.from_items_table(store.read_items(), everything.item_ids)
    )
    histories = [
        np.array(sequence[-3:], dtype=np.int64) for sequence in everything.sequences()[:25]
    ]
    for trained in run.models:
        version = store.get_model(trained.name)
        assert version.version == 1
        assert version.serving
        assert version.data_fingerprint == data_fingerprint(everything)
        assert version.metrics["primary_metric"] == "NDCG@20"
        assert 0.0 <= version.metrics["NDCG@20"] <= 1.0
        assert set(version.metrics["validation"]) == {
            "Recall@20",
            "NDCG@20",
            "HR@20",
            "coverage@20",
        }
        assert version.params == trained.params
        directory = artifact(version.artifact_uri)
        assert directory == data_dir / "models" / trained.name / "v1"
        item_ids = json.loads((directory / ITEM_IDS_FILE).read_text())
        assert item_ids == everything.item_ids.tolist()
        loaded = RECOMMENDERS[trained.name].load(directory)
        refitted = make_recommender(trained.name, **trained.params).fit(everything)
        expected = refitted.recommend(histories, 10)
        got = loaded.recommend(histories, 10)
        np.testing.assert_array_equal(got.items, expected.items)
        np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5)
    best = store.get_model(BEST_MODEL)
    assert run.best == best
    # chosen on the validation split, never on the test split
    winner = max(run.models, key=lambda model: model.validation_metrics["NDCG@20"])  # type: ignore[index]
    assert best.params == {"model": winner.name, "version": 1}
    assert best.artifact_uri == store.get_model(winner.name).artifact_uri


def test_training_again_gives_version_2_and_promotes_it(store: Store, data_dir: Path) -> None:
    settings = settings_for(data_dir, recommenders=("popular", "ease"))
    train_models(store, settings)
    run = train_models(store, settings)
    for name in ("popular", "ease"):
        versions = store.list_models(name)
        assert [(v.version, v.serving) for v in versions] == [(1, False), (2, True)]
        assert artifact(versions[1].artifact_uri).name == "v2"
    assert run.best is not None
    assert run.best.version == 2
    assert run.best.params["version"] == 2


def test_a_failing_model_is_reported_and_the_others_register(store: Store, data_dir: Path) -> None:
    settings = load_settings(
        data_dir=data_dir,
        recommenders=("popular", "ease", "item-knn", "nope"),
        recommender_params={"ease": {"l2": -1.0}, "item-knn": {"neighbors": 5}},
    )
    run = train_models(store, settings)
    failed = {model.name: model.error for model in run.failed}
    assert set(failed) == {"ease", "item-knn", "nope"}
    assert "l2 must be positive" in str(failed["ease"])
    assert "neighbors" in str(failed["item-knn"])
    assert "unknown recommender 'nope'" in str(failed["nope"])
    assert [v.name for v in store.list_models()] == [BEST_MODEL, "popular"]
    assert run.best is not None and run.best.params["model"] == "popular"


def test_the_best_pointer_compares_with_other_serving_models(store: Store, data_dir: Path) -> None:
    train_models(store, settings_for(data_dir, recommenders=("popular", "ease")))
    run = train_models(store, settings_for(data_dir, recommenders=("popular",)))
    assert run.best is not None
    best_ease = store.get_model("ease").metrics["NDCG@20"]
    best_popular = store.get_model("popular").metrics["NDCG@20"]
    assert run.best.params["model"] == ("ease" if best_ease > best_popular else "popular")


def test_model_params_merge_tuned_files_under_settings(tmp_path: Path) -> None:
    (tmp_path / "ease.json").write_text(
        json.dumps({"model": "ease", "best_params": {"l2": 30.0, "max_items": 900}})
    )
    settings = load_settings(
        data_dir=tmp_path,
        tuned_params_dir=tmp_path,
        recommender_params={"ease": {"max_items": 1000}},
    )
    assert model_params(settings, "ease") == {"l2": 30.0, "max_items": 1000}
    assert model_params(settings, "popular") == {}
    (tmp_path / "als.json").write_text(json.dumps({"model": "ease", "best_params": {}}))
    with pytest.raises(ConfigurationError, match="not 'als'"):
        model_params(settings, "als")


def test_an_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    with (
        open_store(f"duckdb:///{tmp_path / 'empty.duckdb'}") as store,
        pytest.raises(ConfigurationError, match="no interactions"),
    ):
        train_models(store, load_settings(data_dir=tmp_path))


def test_cli_train_and_models(data_dir: Path) -> None:
    base = ["--data-dir", str(data_dir), "--log-level", "WARNING"]
    result = runner.invoke(
        app, [*base, "train", "--model", "popular", "--model", "ease"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "leaderboard: temporal split" in result.output
    assert "registered and serving" in result.output
    assert "best:" in result.output
    listing = runner.invoke(app, [*base, "models"], catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    for name in ("popular", "ease", BEST_MODEL):
        assert name in listing.output


def test_cli_train_exits_1_when_a_model_fails(data_dir: Path) -> None:
    (data_dir / "shopsense.toml").write_text("[recommender_params.ease]\nl2 = -1.0\n")
    result = runner.invoke(
        app,
        ["--data-dir", str(data_dir), "train", "--model", "popular", "--model", "ease"],
        env={"SHOPSENSE_CONFIG": str(data_dir / "shopsense.toml")},
    )
    assert result.exit_code == 1
    assert "failed" in result.output
    assert "ease" in result.output


def test_cli_evaluate_best_selects_on_validation(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "shopsense.toml").write_text('recommenders = ["popular", "ease"]\n')
    out = tmp_path / "best.json"
    result = runner.invoke(
        app,
        [
            "--data-dir",
            str(data_dir),
            "--log-level",
            "WARNING",
            "evaluate",
            "--protocol",
            "temporal",
            "--dataset",
            str(data_dir / "shopsense.duckdb"),
            "--model",
            "best",
            "--json",
            str(out),
        ],
        env={"SHOPSENSE_CONFIG": str(data_dir / "shopsense.toml")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    validation = report["selected_by"]["validation"]
    assert set(validation) == {"popular", "ease"}
    chosen = max(validation, key=lambda name: validation[name]["NDCG@20"])
    assert report["model"] == chosen
    assert "selected" in result.output
