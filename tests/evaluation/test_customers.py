"""The retail-churn protocol on the real Online Retail file: the learned churn model
beats both baselines, every test customer is scored, and nothing after the test cutoff
reaches a feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopsense.core.errors import ValidationFailedError
from shopsense.evaluation.customers import (
    ChurnEvaluation,
    ChurnProtocol,
    evaluate_churn,
    load_churn_protocol,
    retail_churn,
)
from shopsense.features.customers import SECONDS_PER_DAY, customer_features
from tests.conftest import dataset_path

ONLINE_RETAIL = "online-retail/online_retail.csv.gz"
LEARNED = "learned (LightGBM, calibrated)"


@pytest.fixture(scope="module")
def protocol() -> ChurnProtocol:
    return retail_churn(dataset_path(ONLINE_RETAIL))


@pytest.fixture(scope="module")
def evaluation(protocol: ChurnProtocol) -> ChurnEvaluation:
    return evaluate_churn(protocol)


def test_the_protocol_cutoffs(protocol: ChurnProtocol) -> None:
    assert protocol.name == "retail-churn"
    assert protocol.training_cutoff < protocol.test_cutoff < protocol.test_end
    assert pd.Timestamp(protocol.test_cutoff, unit="s") == pd.Timestamp("2011-09-01")
    assert pd.Timestamp(protocol.test_end, unit="s") == pd.Timestamp("2011-12-01")
    assert protocol.horizon_days == 91
    # The training labels end before the test cutoff.
    assert protocol.training_cutoff + protocol.horizon_days * SECONDS_PER_DAY <= (
        protocol.test_cutoff
    )
    assert set(protocol.events["type"]) == {"purchase"}


def test_learned_churn_beats_both_baselines(evaluation: ChurnEvaluation) -> None:
    churn = evaluation.churn
    assert set(churn) == {LEARNED, "recency only", "BG/NBD"}
    learned = churn[LEARNED]
    for baseline in ("recency only", "BG/NBD"):
        assert learned["roc_auc"] > churn[baseline]["roc_auc"], baseline
        assert learned["brier"] < churn[baseline]["brier"], baseline
    assert learned["roc_auc"] > 0.7


def test_every_test_customer_has_a_prediction(
    protocol: ChurnProtocol, evaluation: ChurnEvaluation
) -> None:
    events = protocol.events
    before = events[events["ts"] < protocol.test_cutoff]
    buyers = sorted(set(before["user_id"]))
    predictions = evaluation.predictions
    assert sorted(predictions.index.astype(str)) == buyers
    assert predictions.index.is_unique
    for column in (
        "churn_probability",
        "churn_recency",
        "churn_bgnbd",
        "expected_purchases",
        "expected_spend",
    ):
        values = predictions[column].to_numpy(dtype=float)
        assert np.isfinite(values).all(), column
    for column in ("churn_probability", "churn_recency", "churn_bgnbd"):
        assert predictions[column].between(0.0, 1.0).all(), column
    # Both outcomes occur, so the metrics are defined.
    assert 0.2 < predictions["churned"].mean() < 0.8
    assert evaluation.training_customers > 1_000
    assert evaluation.spend_choice in {"learned", "probabilistic"}


def test_no_test_feature_uses_data_after_the_cutoff(
    protocol: ChurnProtocol, evaluation: ChurnEvaluation
) -> None:
    predictions = evaluation.predictions
    assert (predictions["recency_days"] > 0).all()
    cutoff = protocol.test_cutoff
    events = protocol.events
    past = events[events["ts"] < cutoff]
    # The features the predictions read are those of the history before the cutoff alone.
    features = customer_features(past, cutoff).reindex(predictions.index)
    np.testing.assert_array_equal(
        predictions["recency_days"].to_numpy(), features["recency_days"].to_numpy()
    )
    np.testing.assert_array_equal(
        predictions["spend_last_90d"].to_numpy(), features["spend_90d"].to_numpy()
    )
    # Each customer's last purchase before the cutoff is recency_days before it.
    last = past.groupby("user_id")["ts"].max().reindex(predictions.index)
    np.testing.assert_allclose(
        (cutoff - last.to_numpy()) / SECONDS_PER_DAY, predictions["recency_days"].to_numpy()
    )
    # The truth is the window after the cutoff: customers bought there iff not churned.
    window = events[(events["ts"] >= cutoff) & (events["ts"] < protocol.test_end)]
    returned = predictions.index.isin(window["user_id"])
    np.testing.assert_array_equal(~returned, predictions["churned"].to_numpy())


def test_dump_records_one_per_customer(evaluation: ChurnEvaluation) -> None:
    records = evaluation.dump_records()
    assert len(records) == len(evaluation.predictions)
    assert len({record["customer_id"] for record in records}) == len(records)
    for record in records[:50]:
        assert set(record) == {
            "customer_id",
            "churn_probability",
            "expected_purchases",
            "spend_90d",
        }
        assert isinstance(record["customer_id"], str)
    first = evaluation.predictions.iloc[0]
    assert records[0]["churn_probability"] == round(float(first["churn_probability"]), 6)


def test_loading_rejects_unknown_protocols_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailedError, match="unknown customer protocol"):
        load_churn_protocol("cdnow-churn", tmp_path / "online_retail.csv.gz")
    with pytest.raises(ValidationFailedError, match="not found"):
        load_churn_protocol("retail-churn", tmp_path / "no-such-file.csv.gz")


def test_loading_the_real_file(protocol: ChurnProtocol) -> None:
    loaded = load_churn_protocol("retail-churn", str(dataset_path(ONLINE_RETAIL)))
    assert loaded.test_cutoff == protocol.test_cutoff
    assert len(loaded.events) == len(protocol.events)
