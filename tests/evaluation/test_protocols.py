"""Split rules on tiny synthetic files, and the published sizes on the real ones."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError
from shopsense.evaluation.protocols import (
    Split,
    load_split,
    ml100k,
    random_holdout,
    read_online_retail,
    retail_temporal,
    retail_temporal_new,
    seq_loo,
)
from shopsense.features.interactions import Interactions
from tests.conftest import dataset_path


def ids(split: Split, codes: np.ndarray) -> list[str]:
    return [str(split.item_ids[c]) for c in codes]


def by_user(split: Split) -> dict[str, tuple[list[str], list[str]]]:
    """user -> (history item ids, sorted truth item ids)."""
    return {
        str(user): (ids(split, history), sorted(ids(split, truth)))
        for user, history, truth in zip(split.users, split.histories, split.truth, strict=True)
    }


# -- seq-loo -------------------------------------------------------------------------------


def test_seq_loo_rules(tmp_path: Path) -> None:
    path = tmp_path / "Beauty.txt"
    path.write_text("1 10 11 12 13\n2 11 14 10\n3 12 13\n")  # user 3 is too short
    split = seq_loo(path)
    assert split.exclude_seen
    assert split.metrics == ("HR@10", "NDCG@10", "HR@20", "NDCG@20")
    assert by_user(split) == {"1": (["10", "11", "12"], ["13"]), "2": (["11", "14"], ["10"])}
    assert split.validation is not None
    assert by_user(split.validation) == {"1": (["10", "11"], ["12"]), "2": (["11"], ["14"])}
    # training = all but the last two of each user, in order; vocabulary = every item
    assert [ids(split, s) for s in split.train.sequences()] == [["10", "11"], ["11"]]
    assert split.item_ids.tolist() == ["10", "11", "12", "13", "14"]
    assert split.validation.train is split.train


# -- retail-temporal -----------------------------------------------------------------------

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
RETAIL_LINES = [
    # customer 1: before A, B; after A (repurchase) and C
    "1,a ,x,1,2011-05-01 10:00:00,1.0,1,UK",
    "2,B,x,2,2011-08-31 23:59:00,1.0,1,UK",
    "3,A,x,1,2011-09-01 00:00:00,1.0,1,UK",
    "3,C,x,1,2011-10-01 10:00:00,1.0,1,UK",
    # customer 2: before A; after only A (no new item)
    "4,A,x,1,2011-07-01 10:00:00,1.0,2,UK",
    "5,A,x,1,2011-11-01 10:00:00,1.0,2,UK",
    # customer 3: only after -> not evaluated
    "6,B,x,1,2011-10-01 10:00:00,1.0,3,UK",
    # dropped lines: no customer, cancellation, quantity <= 0, price <= 0
    "7,D,x,1,2011-10-01 10:00:00,1.0,,UK",
    "C8,E,x,1,2011-10-01 10:00:00,1.0,1,UK",
    "9,F,x,0,2011-10-01 10:00:00,1.0,1,UK",
    "10,G,x,1,2011-10-01 10:00:00,0.0,1,UK",
    # customer 4: before only -> not evaluated; in the inner window (June-August)
    "11,B,x,1,2011-06-15 10:00:00,1.0,4,UK",
]


@pytest.fixture
def retail_file(tmp_path: Path) -> Path:
    path = tmp_path / "online_retail.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write("\n".join([RETAIL_HEADER, *RETAIL_LINES]) + "\n")
    return path


def test_retail_cleaning(retail_file: Path) -> None:
    frame = read_online_retail(retail_file)
    assert len(frame) == 8  # 12 lines less the 4 dropped ones
    assert set(frame["item_id"]) == {"A", "B", "C"}  # "a " trimmed and upper-cased
    assert list(frame["ts"]) == sorted(frame["ts"])


def test_retail_temporal_rules(retail_file: Path) -> None:
    split = retail_temporal(retail_file)
    assert not split.exclude_seen
    assert split.metrics == ("Recall@20", "NDCG@20", "HR@20", "coverage@20")
    assert by_user(split) == {"1": (["A", "B"], ["A", "C"]), "2": (["A"], ["A"])}
    assert split.item_ids.tolist() == ["A", "B", "C"]  # C first sold after the cutoff
    assert len(split.train) == 4  # lines before 2011-09-01 (00:00 itself is after)
    validation = split.validation
    assert validation is not None
    # inner cutoff 2011-06-01, window up to 2011-09-01: only customer 1 bought before June
    assert by_user(validation) == {"1": (["A"], ["B"])}
    assert len(validation.train) == 1
    assert validation.item_ids.tolist() == ["A", "B"]  # nothing from after 2011-09-01


def test_retail_temporal_new_rules(retail_file: Path) -> None:
    split = retail_temporal_new(retail_file)
    assert split.exclude_seen
    # customer 1 keeps only C; customer 2 has no new item and is dropped
    assert by_user(split) == {"1": (["A", "B"], ["C"])}
    assert split.validation is not None
    assert by_user(split.validation) == {"1": (["A"], ["B"])}


# -- ml100k --------------------------------------------------------------------------------


def test_random_holdout_takes_rounded_share_per_user() -> None:
    users = np.repeat(np.arange(3, dtype=np.int64), [4, 6, 1])
    held = random_holdout(users, 0.25, np.random.default_rng(42))
    # round half up of 0.25 * n: 4 -> 1, 6 -> 2 (1.5), 1 -> 0 (0.25)
    assert np.bincount(users[held], minlength=3).tolist() == [1, 2, 0]
    again = random_holdout(users, 0.25, np.random.default_rng(42))
    assert np.array_equal(held, again)


def test_ml100k_rules(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = [
        f"{user}\t{item}\t{rng.integers(1, 6)}\t{880000000 + 60 * item}"
        for user in (1, 2)
        for item in range(1, 9)  # 8 ratings each -> 2 test, 6 train; validation 1 of 6
    ]
    path = tmp_path / "u.data"
    path.write_text("\n".join(lines) + "\n")
    split = ml100k(tmp_path)  # the folder works too
    assert split.exclude_seen
    assert split.metrics == ("Precision@10", "Recall@10", "NDCG@10", "MAP@10")
    assert split.users.tolist() == ["1", "2"]
    for history, truth in zip(split.histories, split.truth, strict=True):
        assert len(history) == 6
        assert len(truth) == 2
        assert not set(history.tolist()) & set(truth.tolist())
        assert set(history.tolist()) | set(truth.tolist()) == set(range(8))
    assert len(split.train) == 12
    validation = split.validation
    assert validation is not None
    assert [len(t) for t in validation.truth] == [1, 1]  # round half up of 0.1 * 6
    assert len(validation.train) + sum(len(t) for t in validation.truth) == 12
    assert ml100k(path).truth[0].tolist() == split.truth[0].tolist()  # same seed, same split


def test_unknown_protocol_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown protocol"):
        load_split("nope", tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_split("ml100k", tmp_path / "missing")


def test_split_refuses_empty_truth() -> None:
    train = Interactions.from_arrays(["u"], ["i"], [0])
    with pytest.raises(ValueError, match="empty truth"):
        Split(
            "x",
            train,
            np.array(["u"]),
            [np.zeros(0, np.int64)],
            [np.zeros(0, np.int64)],
            True,
            ("HR@10",),
        )


# -- the real files ------------------------------------------------------------------------


def test_beauty_published_sizes() -> None:
    split = load_split("seq-loo", dataset_path("amazon-beauty/Beauty.txt"))
    assert split.n_users == 22_363
    assert split.n_items == 12_101
    # 198,502 interactions = training + validation target + test target per user
    assert len(split.train) + 2 * split.n_users == 198_502


def test_ml100k_published_sizes() -> None:
    split = load_split("ml100k", dataset_path("movielens-100k/u.data"))
    assert split.n_users == 943
    assert split.n_items == 1_682
    assert len(split.train) + sum(len(t) for t in split.truth) == 100_000


def test_online_retail_sizes() -> None:
    path = dataset_path("online-retail/online_retail.csv.gz")
    assert len(read_online_retail(path)) == 397_884  # the usual size after this cleaning
    split = retail_temporal(path)
    assert split.n_users == 1_952
    assert split.n_items == 3_665
    new = retail_temporal_new(path)
    assert new.n_users == 1_891


def test_retail_splits_carry_times_now_and_the_catalog(retail_file: Path) -> None:
    split = retail_temporal(retail_file)
    assert split.now == int(datetime(2011, 9, 1, tzinfo=UTC).timestamp())
    assert split.history_times is not None
    for history, times in zip(split.histories, split.history_times, strict=True):
        assert len(times) == len(history)
        assert np.all(np.diff(times) >= 0) and np.all(times < split.now)
    catalog = split.train.catalog
    assert catalog is not None and len(catalog) == split.n_items
    assert catalog.has_text
    assert np.all(np.isfinite(catalog.price))  # every kept line has a positive price
    assert split.validation is not None and split.validation.now == int(
        datetime(2011, 6, 1, tzinfo=UTC).timestamp()
    )


def test_seq_loo_times_are_one_step_per_item(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 10 11 12 13\n2 10 12 14\n")
    split = seq_loo(path)
    assert split.history_times is not None
    assert [len(t) for t in split.history_times] == [len(h) for h in split.histories]
    assert split.train.catalog is None  # no attribute files beside it
