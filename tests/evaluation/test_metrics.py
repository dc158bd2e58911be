"""Metrics against hand-computed values (the arithmetic is in each test)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopsense.evaluation.metrics import (
    average_precision,
    catalog_coverage,
    hit_rate,
    ndcg,
    novelty,
    parse_metric,
    precision,
    recall,
    relevance,
    score,
    truth_sizes,
)

# Two users, lists of 4 (user 1's list is short: padded with -1).
RECOMMENDED = np.array([[3, 1, 7, 5], [2, 9, -1, -1]], dtype=np.int64)
# User 0: relevant {1, 5, 8} -> hits at ranks 2 and 4; user 1: relevant {2} -> rank 1.
TRUTH = [np.array([5, 1, 8]), np.array([2, 2])]  # duplicates count once


def test_relevance_marks_hits_and_never_padding() -> None:
    hits = relevance(RECOMMENDED, TRUTH)
    assert hits.tolist() == [[False, True, False, True], [True, False, False, False]]
    # -1 padding is no hit even if -1 were (wrongly) in the truth
    assert not relevance(np.array([[-1, -1]]), [np.array([-1])]).any()
    assert truth_sizes(TRUTH).tolist() == [3, 1]


def test_relevance_refuses_repeated_items_and_wrong_batch() -> None:
    with pytest.raises(ValueError, match="repeats"):
        relevance(np.array([[1, 1]]), [np.array([1])])
    with pytest.raises(ValueError, match="shape"):
        relevance(RECOMMENDED, TRUTH[:1])


def test_per_user_metrics_by_hand() -> None:
    hits = relevance(RECOMMENDED, TRUTH)
    sizes = truth_sizes(TRUTH)
    d = [1 / math.log2(r + 1) for r in range(1, 5)]  # 1, 0.6309, 0.5, 0.4307
    # HR@1: user 0 misses rank 1, user 1 hits it
    assert hit_rate(hits, 1).tolist() == [0.0, 1.0]
    assert hit_rate(hits, 4).tolist() == [1.0, 1.0]
    # Precision@4: 2/4 and 1/4 (k even though user 1's list has 2 real items)
    assert precision(hits, 4).tolist() == [0.5, 0.25]
    # Recall@2: 1/3 and 1/1; Recall@4: 2/3 and 1
    assert recall(hits, sizes, 2) == pytest.approx([1 / 3, 1.0])
    assert recall(hits, sizes, 4) == pytest.approx([2 / 3, 1.0])
    # NDCG@4 user 0: DCG = d2 + d4; IDCG = d1 + d2 + d3 (|T| = 3); user 1: d1 / d1
    assert ndcg(hits, sizes, 4) == pytest.approx([(d[1] + d[3]) / (d[0] + d[1] + d[2]), 1.0])
    # NDCG@2 user 0: DCG = d2, IDCG = d1 + d2 (min(|T|, k) = 2)
    assert ndcg(hits, sizes, 2)[0] == pytest.approx(d[1] / (d[0] + d[1]))
    # AP@4 user 0: (P@2 * 1 + P@4 * 1) / min(3, 4) = (1/2 + 2/4) / 3 = 1/3; user 1: 1/1
    assert average_precision(hits, sizes, 4) == pytest.approx([1 / 3, 1.0])
    # AP@2 user 0: (P@2) / min(3, 2) = (1/2) / 2 = 1/4
    assert average_precision(hits, sizes, 2)[0] == pytest.approx(0.25)


def test_empty_truth_and_bad_k_are_refused() -> None:
    hits = relevance(np.array([[1, 2]]), [np.array([], dtype=np.int64)])
    assert not hits.any()
    with pytest.raises(ValueError, match="no relevant item"):
        recall(hits, np.array([0]), 2)
    with pytest.raises(ValueError, match="no relevant item"):
        ndcg(hits, np.array([0]), 2)
    with pytest.raises(ValueError, match="outside"):
        hit_rate(hits, 3)


def test_coverage_and_novelty_by_hand() -> None:
    # top-2 of both lists: {3, 1} and {2, 9} -> 4 distinct of 10 items
    assert catalog_coverage(RECOMMENDED, 10, 2) == 0.4
    # top-4: {3, 1, 7, 5, 2, 9} (padding left out) -> 6 of 10
    assert catalog_coverage(RECOMMENDED, 10, 4) == 0.6
    counts = np.zeros(10, np.int64)
    counts[[3, 1, 2, 9]] = [4, 2, 1, 0]  # training users per item, of 8 users
    # -log2(4/8) = 1, -log2(2/8) = 2, -log2(1/8) = 3, item 9 unseen counts as 1 -> 3
    assert novelty(RECOMMENDED, counts, 8, 2) == pytest.approx((1 + 2 + 3 + 3) / 4)


def test_score_means_and_names() -> None:
    d = [1 / math.log2(r + 1) for r in range(1, 5)]
    results = score(
        ["HR@1", "Precision@4", "Recall@4", "NDCG@4", "MAP@4", "coverage@4"],
        RECOMMENDED,
        TRUTH,
        n_items=10,
    )
    assert results["HR@1"] == 0.5
    assert results["Precision@4"] == pytest.approx((0.5 + 0.25) / 2)
    assert results["Recall@4"] == pytest.approx((2 / 3 + 1) / 2)
    assert results["NDCG@4"] == pytest.approx(((d[1] + d[3]) / (d[0] + d[1] + d[2]) + 1) / 2)
    assert results["MAP@4"] == pytest.approx((1 / 3 + 1) / 2)
    assert results["coverage@4"] == 0.6
    assert parse_metric("NDCG@10") == ("NDCG", 10)
    for bad in ("nDCG@10", "HR", "HR@0", "HR@x"):
        with pytest.raises(ValueError, match="unknown metric"):
            parse_metric(bad)
    with pytest.raises(ValueError, match="novelty needs"):
        score(["novelty@2"], RECOMMENDED, TRUTH, n_items=10)
