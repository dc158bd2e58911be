"""The one small interface every recommender implements, and what they share.

Rules (scikit-learn's): ``__init__`` only stores keyword hyper-parameters; ``fit``
learns and returns ``self``; learned attributes end in ``_``; using a model before
``fit`` raises :class:`~shopsense.core.errors.NotFittedError`.

Models work in item codes (see :class:`~shopsense.features.Interactions`). A batch of
users is given by their *current* histories (time-ordered item codes), not by user
codes, so that a live history or an unknown visitor is scored the same way as a
training user.

Artifacts: ``save(directory)`` writes the weights in an open format (npz, safetensors,
LightGBM text) plus ``manifest.json`` (model name, params, library versions, data
fingerprint); ``load(directory)`` reads them back. No pickle.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from shopsense import __version__
from shopsense.core.errors import NotFittedError
from shopsense.features.interactions import Interactions

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Recommendations:
    """Ranked lists for a batch of users: ``items[u, k]`` is user ``u``'s ``k``-th item
    code (best first) and ``scores[u, k]`` its score. Lists shorter than ``n`` (too few
    candidates) are padded with item code -1 and score -inf."""

    items: IntArray
    scores: FloatArray


@dataclass(frozen=True, slots=True)
class Holdout:
    """Held-out targets for early stopping: ``truth[u]`` (item codes) follows
    ``histories[u]``, and no truth item is in the training interactions; ``times`` and
    ``now`` as in :meth:`Recommender.recommend`, so that time-aware models learn from
    the same clock they are served with.

    Models that stop early accept ``fit(interactions, validation=Holdout(...))``; without
    it they hold out part of the training data themselves.
    """

    histories: list[IntArray]
    truth: list[IntArray]
    times: list[IntArray] | None = None
    now: int | None = None

    def __post_init__(self) -> None:
        if len(self.histories) != len(self.truth):
            raise ValueError("histories and truth differ in length")
        if self.times is not None and len(self.times) != len(self.histories):
            raise ValueError("times and histories differ in length")


@runtime_checkable
class Recommender(Protocol):
    """A recommendation model."""

    name: ClassVar[str]

    def fit(self, interactions: Interactions) -> Self:
        """Learn from ``interactions`` (training data only); returns ``self``."""
        ...

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
        """Top-``n`` items for each history (time-ordered item codes, any length, may be
        empty). ``exclude_seen`` drops items in the history; ``candidates`` restricts
        the lists to those item codes. ``times[u]`` (Unix seconds, parallel to
        ``histories[u]``) and ``now`` (the moment of the request, Unix seconds) are for
        time-aware models (re-buy cycles); the others ignore them. Without ``times`` a
        time-aware model treats the history as one step per item ending at ``now``."""
        ...

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The ``n`` items most similar to each of ``item_codes`` (never the item itself)."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted model (weights + ``manifest.json``) into ``directory``."""
        ...

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Read a model that :meth:`save` wrote."""
        ...


def accepts_holdout(model: Recommender) -> bool:
    """Whether ``model.fit`` takes ``validation=Holdout(...)`` (models that stop early)."""
    return "validation" in inspect.signature(model.fit).parameters


def check_fitted(model: object, attribute: str) -> None:
    """Raise :class:`NotFittedError` unless ``model`` has the learned ``attribute``."""
    if getattr(model, attribute, None) is None:
        raise NotFittedError(
            f"{type(model).__name__} is not fitted yet; call fit(interactions) first"
        )


def top_n(
    scores: FloatArray,
    n: int,
    *,
    histories: list[IntArray] | None = None,
    candidates: IntArray | None = None,
) -> Recommendations:
    """Rank a dense ``(n_users, n_items)`` score matrix: drop each row's history items
    (when given) and non-candidates, keep the ``n`` best per row, best first; ties go
    to the lower item code among the ``n`` kept, so that results are deterministic."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    n_rows, n_items = scores.shape
    if candidates is not None:
        allowed = np.zeros(n_items, dtype=bool)
        allowed[candidates] = True
        scores[:, ~allowed] = -np.inf
    if histories is not None:
        rows = np.repeat(np.arange(n_rows), [len(h) for h in histories])
        if len(rows):
            scores[rows, np.concatenate(histories)] = -np.inf
    k = min(n, n_items)
    if k < n_items:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    top_scores = np.take_along_axis(scores, top, axis=1)
    # Best first; equal scores in item-code order (lexsort's last key is the primary one).
    order = np.lexsort((top, -top_scores), axis=1)
    items = np.full((n_rows, n), -1, dtype=np.int64)
    best = np.full((n_rows, n), -np.inf)
    items[:, :k] = np.take_along_axis(top, order, axis=1)
    best[:, :k] = np.take_along_axis(top_scores, order, axis=1)
    items[np.isneginf(best)] = -1
    return Recommendations(items=items, scores=best)


def write_manifest(directory: Path, name: str, params: dict[str, Any], **extra: Any) -> None:
    """Write ``manifest.json``: what model, with which parameters and software."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "model": name,
        "params": params,
        "shopsense": __version__,
        "numpy": np.__version__,
        **extra,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def read_manifest(directory: Path, name: str) -> dict[str, Any]:
    """The manifest in ``directory``, checked to be of model ``name``."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    if manifest.get("model") != name:
        raise ValueError(f"{directory} holds a {manifest.get('model')!r} model, not {name!r}")
    return manifest
