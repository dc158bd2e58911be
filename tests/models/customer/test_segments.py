"""RFM segments follow the grid and the fitted cuts; behavioural clusters find planted
groups, describe them in words and survive a JSON round trip."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.models.customer.segments import (
    CHAMPIONS,
    LOST,
    SEGMENT_GRID,
    SEGMENT_NAMES,
    SEGMENTS,
    BehaviourClusters,
    RFMSegmenter,
    SegmentInfo,
)

# The segment rules as usually written (R levels, FM levels), checked against the table.
RULES: list[tuple[str, set[int], set[int]]] = [
    ("Champions", {5}, {4, 5}),
    ("Loyal", {3, 4}, {4, 5}),
    ("Potential loyalists", {4, 5}, {2, 3}),
    ("New", {5}, {1}),
    ("Promising", {4}, {1}),
    ("Need attention", {3}, {3}),
    ("About to sleep", {3}, {1, 2}),
    ("At risk", {1, 2}, {3, 4}),
    ("Cannot lose them", {1, 2}, {5}),
    ("Lost", {1}, {1}),
    ("Hibernating", {1, 2}, {1, 2}),  # the rest of R1-2 FM1-2, i.e. less Lost's cell
]


def population(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Customers as shops have them: 60% bought on one day only, lognormal spend."""
    rng = np.random.default_rng(seed)
    frequency = np.where(rng.random(n) < 0.6, 1.0, 1.0 + rng.geometric(0.35, n))
    return pd.DataFrame(
        {
            "recency_days": rng.exponential(90.0, n),
            "frequency": frequency,
            "monetary": np.round(rng.lognormal(3.5, 1.0, n) * frequency, 2),
            "tenure_days": rng.exponential(300.0, n),
            "gap_mean_days": np.where(frequency > 1, rng.exponential(40.0, n), np.nan),
            "distinct_items": np.round(frequency * rng.uniform(1.0, 4.0, n)),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="user_id"),
    )


def planted_groups(seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Three well-separated groups in R, F and M: loyal big spenders, lapsed one-off
    buyers and a middle group; returns the frame and each customer's group."""
    rng = np.random.default_rng(seed)
    spec = {  # group: (size, recency, frequency, monetary)
        "best": (300, 5.0, 12.0, 2000.0),
        "lapsed": (500, 300.0, 1.0, 30.0),
        "middle": (200, 40.0, 4.0, 250.0),
    }
    parts = []
    for group, (size, recency, frequency, monetary) in spec.items():
        noise = rng.lognormal(0.0, 0.15, (size, 3))
        parts.append(
            pd.DataFrame(
                {
                    "recency_days": recency * noise[:, 0],
                    "frequency": np.maximum(1.0, np.round(frequency * noise[:, 1]))
                    if frequency > 1
                    else np.ones(size),
                    "monetary": monetary * noise[:, 2],
                    "group": group,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)
    frame.index = pd.Index([f"u{i}" for i in range(len(frame))], name="user_id")
    return frame.drop(columns="group"), frame["group"]


# --- RFM ---------------------------------------------------------------------------


def test_the_grid_maps_every_cell_to_exactly_one_segment() -> None:
    assert len(SEGMENT_GRID) == 25
    for r in range(1, 6):
        for fm in range(1, 6):
            matching = [name for name, rs, fms in RULES if r in rs and fm in fms]
            if matching == ["Lost", "Hibernating"]:  # Hibernating is the rest of R1-2 FM1-2
                matching = ["Lost"]
            assert len(matching) == 1, (r, fm, matching)
            assert SEGMENT_GRID[(r, fm)] == matching[0], (r, fm)
    assert set(SEGMENT_GRID.values()) == set(SEGMENT_NAMES) == set(SEGMENTS)


def test_segments_have_the_agreed_names_descriptions_and_actions() -> None:
    assert SEGMENT_NAMES == (
        "Champions",
        "Loyal",
        "Potential loyalists",
        "New",
        "Promising",
        "Need attention",
        "About to sleep",
        "At risk",
        "Cannot lose them",
        "Hibernating",
        "Lost",
    )
    for name, info in SEGMENTS.items():
        assert isinstance(info, SegmentInfo)
        assert info.name == name
        assert info.description and "\n" not in info.description
        assert info.action and "\n" not in info.action
    with pytest.raises(AttributeError):
        SEGMENTS[CHAMPIONS].action = "nothing"  # type: ignore[misc]


def test_the_best_customer_is_a_champion_and_a_lapsed_cheap_one_off_is_lost() -> None:
    frame = population()
    segmenter = RFMSegmenter().fit(frame)
    extremes = pd.DataFrame(
        {"recency_days": [0.0, 5000.0], "frequency": [60.0, 1.0], "monetary": [1e6, 0.5]},
        index=["best", "gone"],
    )
    scores = segmenter.score(extremes)
    assert scores.loc["best", ["r_score", "f_score", "m_score"]].tolist() == [5, 5, 5]
    assert scores.loc["best", "segment"] == CHAMPIONS
    assert scores.loc["gone", ["r_score", "f_score", "m_score"]].tolist() == [1, 1, 1]
    assert scores.loc["gone", "segment"] == LOST


def test_scores_are_integers_from_1_to_5_and_follow_the_grid() -> None:
    frame = population()
    scores = RFMSegmenter().fit(frame).score(frame)
    assert list(scores.columns) == ["r_score", "f_score", "m_score", "segment"]
    assert scores.index.equals(frame.index)
    for column in ("r_score", "f_score", "m_score"):
        assert scores[column].dtype == np.int64
        assert scores[column].between(1, 5).all()
    # Continuous recency and spend fall into five bins of a fifth each.
    for column in ("r_score", "m_score"):
        shares = scores[column].value_counts(normalize=True)
        assert shares.sort_index().index.tolist() == [1, 2, 3, 4, 5]
        assert np.allclose(shares.to_numpy(), 0.2, atol=0.01)
    fm = (scores["f_score"] + scores["m_score"] + 1) // 2
    expected = [SEGMENT_GRID[(r, f)] for r, f in zip(scores["r_score"], fm, strict=True)]
    assert scores["segment"].tolist() == expected
    assert set(scores["segment"]) <= set(SEGMENT_NAMES)


def test_new_customers_are_scored_on_the_fitted_cuts() -> None:
    frame = population()
    segmenter = RFMSegmenter().fit(frame)
    together = segmenter.score(frame)
    for customer in frame.index[:25]:
        alone = segmenter.score(frame.loc[[customer]])
        pd.testing.assert_frame_equal(alone, together.loc[[customer]])
    # A batch of only recent customers is not re-binned among itself.
    recent = frame.assign(recency_days=0.5)
    assert (segmenter.score(recent)["r_score"] == 5).all()
    # Scoring is deterministic and does not depend on the order of the rows.
    shuffled = frame.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(segmenter.score(shuffled).loc[frame.index], together)


def test_ties_get_equal_scores() -> None:
    frame = population()
    frame.loc[frame.index[:300], "monetary"] = 50.0
    frame.loc[frame.index[300:400], "recency_days"] = 30.0
    scores = RFMSegmenter().fit(frame).score(frame)
    one_off = frame["frequency"] == 1.0
    assert one_off.mean() > 0.5
    assert (scores.loc[one_off, "f_score"] == 1).all()  # a tied block gets its lowest score
    assert scores.loc[~one_off, "f_score"].min() > 1
    assert scores["m_score"].iloc[:300].nunique() == 1
    assert scores["r_score"].iloc[300:400].nunique() == 1
    # Equal values score equally whatever else is in the frame.
    for column in ("recency_days", "frequency", "monetary"):
        by_value = scores.groupby(frame[column])[column[0] + "_score"].nunique()
        assert (by_value == 1).all()


def test_a_constant_column_scores_everyone_the_same() -> None:
    frame = population().assign(frequency=1.0)
    scores = RFMSegmenter().fit(frame).score(frame)
    assert (scores["f_score"] == 1).all()


def test_other_numbers_of_bins_are_placed_on_the_grid() -> None:
    frame = population()
    scores = RFMSegmenter(n_bins=10).fit(frame).score(frame)
    assert scores["r_score"].between(1, 10).all()
    assert scores["r_score"].nunique() == 10
    top = scores[(scores["r_score"] >= 9) & (scores["f_score"] >= 9) & (scores["m_score"] >= 9)]
    assert len(top) > 0
    assert (top["segment"] == CHAMPIONS).all()


def test_the_segmenter_round_trips_through_json() -> None:
    frame = population()
    segmenter = RFMSegmenter().fit(frame)
    saved = json.loads(json.dumps(segmenter.to_dict(), allow_nan=False))
    loaded = RFMSegmenter.from_dict(saved)
    assert loaded.n_bins == 5
    assert loaded.n_customers_ == len(frame)
    pd.testing.assert_frame_equal(loaded.score(frame), segmenter.score(frame))
    pd.testing.assert_frame_equal(loaded.transform(frame), segmenter.score(frame))


def test_the_segmenter_must_be_fitted() -> None:
    segmenter = RFMSegmenter()
    with pytest.raises(NotFittedError, match="fit"):
        segmenter.score(population(10))
    with pytest.raises(NotFittedError):
        segmenter.to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="monetary"), "lacks the columns"),
        (lambda f: f.assign(recency_days=-1.0), "recency_days must be >= 0"),
        (lambda f: f.assign(frequency=0.0), "frequency must be >= 1"),
        (lambda f: f.assign(monetary=np.nan), "missing or infinite"),
        (lambda f: f.assign(monetary=np.inf), "missing or infinite"),
        (lambda f: f.assign(frequency="often"), "must be numeric"),
        (lambda f: f.iloc[:0], "no customers"),
        (lambda f: f.set_axis(["same"] * len(f)), "one row per customer"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(change: object, message: str) -> None:
    frame = change(population(20))  # type: ignore[operator]
    with pytest.raises(ValidationFailedError, match=message):
        RFMSegmenter().fit(frame)
    segmenter = RFMSegmenter().fit(population(20))
    with pytest.raises(ValidationFailedError, match=message):
        segmenter.score(frame)


def test_bad_settings_and_saved_dicts_are_rejected() -> None:
    with pytest.raises(ValidationFailedError, match="n_bins"):
        RFMSegmenter(n_bins=1).fit(population(20))
    with pytest.raises(ValidationFailedError, match="not a saved RFMSegmenter"):
        RFMSegmenter.from_dict({"kind": "BehaviourClusters"})
    saved = RFMSegmenter().fit(population(20)).to_dict()
    saved["edges"]["monetary"] = [3.0, 2.0, 1.0, 0.0]
    with pytest.raises(ValidationFailedError, match="ascending"):
        RFMSegmenter.from_dict(saved)
    del saved["edges"]
    with pytest.raises(ValidationFailedError, match="malformed"):
        RFMSegmenter.from_dict(saved)


# --- behavioural clusters ----------------------------------------------------------


def test_clusters_recover_three_planted_groups_and_describe_them() -> None:
    frame, groups = planted_groups()
    model = BehaviourClusters().fit(frame)
    assert model.n_clusters_ == 3
    assert model.columns_ == ["recency_days", "frequency", "monetary"]  # the others absent
    assert model.silhouette_ is not None
    assert sorted(model.silhouette_) == list(range(2, 9))
    assert max(model.silhouette_, key=model.silhouette_.__getitem__) == 3
    labels = pd.Series(model.predict(frame), index=frame.index)
    crosstab = pd.crosstab(groups, labels)
    assert ((crosstab > 0).sum(axis=1) == 1).all()  # each group lies in one cluster
    assert ((crosstab > 0).sum(axis=0) == 1).all()  # and each cluster holds one group
    assert model.sizes_ == [500, 300, 200]  # numbered by size, largest first
    assert model.descriptions_ is not None
    assert model.names_ is not None
    cluster_of = {group: int(labels[groups == group].iloc[0]) for group in crosstab.index}
    best = cluster_of["best"]
    lapsed = cluster_of["lapsed"]
    assert re.search(
        r"recent buyers \(last purchase [45]\.?\d? days ago vs 1\d\d overall\)",
        model.descriptions_[best],
    )
    assert re.search(r"high spend \(spend [12],\d{3} vs \d+\)", model.descriptions_[best])
    assert "recent" in model.names_[best].split()
    assert "high-spend" in model.names_[best].split()
    assert re.search(
        r"lapsed buyers \(last purchase [23]\d\d days ago vs", model.descriptions_[lapsed]
    )
    assert "lapsed" in model.names_[lapsed].split()
    assert "low-spend" in model.names_[lapsed].split()
    for description in model.descriptions_:
        assert "£" not in description and "$" not in description
    assert (
        " vs " in model.descriptions_[cluster_of["middle"]]
        or model.names_[cluster_of["middle"]] == "typical"
    )
    assert len(set(model.names_)) == 3


def test_a_single_distinguishing_feature_is_named_and_constant_columns_are_dropped() -> None:
    rng = np.random.default_rng(1)
    spend = np.concatenate([rng.lognormal(np.log(level), 0.1, 150) for level in (20, 400, 8000)])
    frame = pd.DataFrame(
        {"recency_days": 10.0, "frequency": 2.0, "monetary": spend},
        index=[f"u{i}" for i in range(len(spend))],
    )
    model = BehaviourClusters().fit(frame)
    assert model.columns_ == ["monetary"]
    assert model.n_clusters_ == 3
    assert model.names_ is not None and model.descriptions_ is not None
    low = int(model.predict(frame.iloc[[0]])[0])
    high = int(model.predict(frame.iloc[[-1]])[0])
    assert model.names_[low] == "low-spend"
    assert model.names_[high] == "high-spend"
    assert re.fullmatch(
        r"high spend \(spend [78],\d{3} vs \d{3} overall\)", model.descriptions_[high]
    )


def test_missing_gaps_are_filled_and_every_customer_gets_a_cluster() -> None:
    frame = population(1500)
    assert frame["gap_mean_days"].isna().mean() > 0.5
    model = BehaviourClusters(max_clusters=5).fit(frame)
    assert model.columns_ is not None and "gap_mean_days" in model.columns_
    assert model.medians_ is not None and np.isfinite(model.medians_).all()
    labels = model.predict(frame)
    assert labels.dtype == np.int64
    assert len(labels) == len(frame)
    assert model.n_clusters_ is not None
    assert set(labels.tolist()) <= set(range(model.n_clusters_))
    assert model.sizes_ == np.bincount(labels, minlength=model.n_clusters_).tolist()
    assert model.descriptions_ is not None and all(model.descriptions_)


def test_columns_without_values_or_variation_are_skipped() -> None:
    frame = population(500).assign(distinct_items=np.nan, tenure_days=100.0)
    model = BehaviourClusters(max_clusters=4).fit(frame.drop(columns="gap_mean_days"))
    assert model.columns_ == ["recency_days", "frequency", "monetary"]


def test_clusters_round_trip_through_json() -> None:
    frame = population(1500)
    model = BehaviourClusters(max_clusters=5).fit(frame)
    saved = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    loaded = BehaviourClusters.from_dict(saved)
    other = population(700, seed=9)
    np.testing.assert_array_equal(loaded.predict(other), model.predict(other))
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.descriptions_ == model.descriptions_
    assert loaded.names_ == model.names_
    assert loaded.silhouette_ == model.silhouette_
    assert loaded.sizes_ == model.sizes_
    assert loaded.max_clusters == 5
    assert loaded.cluster_medians_ is not None and model.cluster_medians_ is not None
    np.testing.assert_array_equal(loaded.cluster_medians_, model.cluster_medians_)


def test_fitting_is_deterministic_and_k_is_chosen_on_a_sample() -> None:
    frame, _ = planted_groups()
    first = BehaviourClusters(sample_size=400).fit(frame)
    second = BehaviourClusters(sample_size=400).fit(frame.sample(frac=1.0, random_state=0))
    assert first.n_clusters_ == second.n_clusters_ == 3
    assert first.centers_ is not None and second.centers_ is not None
    assert first.silhouette_ == BehaviourClusters(sample_size=400).fit(frame).silhouette_


def test_the_number_of_clusters_stays_below_the_number_of_customers() -> None:
    frame = pd.DataFrame(
        {"recency_days": [1.0, 50.0, 300.0, 20.0], "frequency": [9.0, 3.0, 1.0, 2.0]},
        index=list("abcd"),
    ).assign(monetary=[900.0, 120.0, 10.0, 60.0])
    model = BehaviourClusters().fit(frame)
    assert model.silhouette_ is not None
    assert sorted(model.silhouette_) == [2, 3]


def test_clusters_must_be_fitted() -> None:
    model = BehaviourClusters()
    with pytest.raises(NotFittedError, match="fit"):
        model.predict(population(10))
    with pytest.raises(NotFittedError):
        model.to_dict()


def test_bad_cluster_input_is_rejected_with_a_reason() -> None:
    with pytest.raises(ValidationFailedError, match="at least 3 customers"):
        BehaviourClusters().fit(population(2))
    same = pd.DataFrame(
        {"recency_days": [3.0] * 10 + [9.0] * 10, "frequency": 1.0, "monetary": 5.0},
        index=range(20),
    )
    with pytest.raises(ValidationFailedError, match="at least 3 customers"):
        BehaviourClusters().fit(same)
    with pytest.raises(ValidationFailedError, match="none of the columns"):
        BehaviourClusters().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValidationFailedError, match="infinite"):
        BehaviourClusters().fit(population(50).assign(monetary=np.inf))
    with pytest.raises(ValidationFailedError, match="max_clusters"):
        BehaviourClusters(max_clusters=1).fit(population(50))
    model = BehaviourClusters(max_clusters=3).fit(population(200))
    with pytest.raises(ValidationFailedError, match="lacks the columns"):
        model.predict(population(20).drop(columns="monetary"))
    with pytest.raises(ValidationFailedError, match="not saved BehaviourClusters"):
        BehaviourClusters.from_dict({"kind": "RFMSegmenter"})
    saved = model.to_dict()
    saved["centers"] = saved["centers"][:1]
    with pytest.raises(ValidationFailedError, match="malformed"):
        BehaviourClusters.from_dict(saved)
