"""Shared ranking helper and manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.models.recommend.base import read_manifest, top_n, write_manifest


def test_top_n_ranks_best_first_with_ties_by_item_code() -> None:
    scores = np.array([[0.5, 0.9, 0.9, 0.1], [1.0, 1.0, 1.0, 1.0]])
    ranked = top_n(scores, 3)
    assert ranked.items.tolist() == [[1, 2, 0], [0, 1, 2]]
    assert ranked.scores.tolist() == [[0.9, 0.9, 0.5], [1.0, 1.0, 1.0]]


def test_top_n_excludes_histories_and_non_candidates_and_pads() -> None:
    scores = np.array([[0.5, 0.9, 0.8, 0.1]])
    ranked = top_n(scores, 3, histories=[np.array([1])], candidates=np.array([1, 2, 3]))
    assert ranked.items.tolist() == [[2, 3, -1]]
    assert ranked.scores[0, 2] == -np.inf
    wide = top_n(scores, 6)
    assert wide.items.tolist() == [[1, 2, 0, 3, -1, -1]]


def test_top_n_does_not_modify_its_input() -> None:
    scores = np.array([[0.5, 0.9]])
    top_n(scores, 1, histories=[np.array([1])])
    assert scores.tolist() == [[0.5, 0.9]]


def test_manifest_round_trip_and_model_check(tmp_path: Path) -> None:
    write_manifest(tmp_path, "ease", {"l2": 100.0}, n_items=3)
    manifest = read_manifest(tmp_path, "ease")
    assert manifest["params"] == {"l2": 100.0}
    assert manifest["n_items"] == 3
    with pytest.raises(ValueError, match="not 'als'"):
        read_manifest(tmp_path, "als")
