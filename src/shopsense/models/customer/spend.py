"""The learned customer-value model: spend in a window after the cutoff, regressed on
the customer's features before it with LightGBM.

Most customers spend nothing in a 90-day window and a few spend a great deal, so the
loss is Tweedie (a compound Poisson-gamma: a point mass at zero plus a skewed positive
part, the usual choice for insurance claims and retail spend), which predicts the
*mean* spend; rounds are chosen by early stopping on K folds, as for churn. It competes
with the probabilistic BG/NBD x Gamma-Gamma value on a holdout, and the better one
serves (see :mod:`shopsense.training.customers`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.models.customer._boosting import (
    cross_fit,
    feature_matrix,
    load_booster,
    predict,
    save_booster,
    train_booster,
    tree_params,
)

FloatArray = npt.NDArray[np.float64]

MIN_ROWS = 50
"""Fewer customers than this are too few to learn spend from."""


class SpendRegressor:
    """E[spend in the window | features before the cutoff] (scikit-learn rules).

    Parameters
    ----------
    tweedie_variance_power:
        Between 1 (Poisson) and 2 (gamma); 1.5 suits zero-heavy spend.
    num_leaves, learning_rate, min_child_samples, lambda_l2, max_rounds, n_folds,
    random_state:
        As for :class:`~shopsense.models.customer.churn.ChurnClassifier`.
    """

    booster_: lgb.Booster | None = None
    feature_names_: list[str] | None = None
    n_rounds_: int | None = None
    oof_predictions_: FloatArray | None = None

    def __init__(
        self,
        *,
        tweedie_variance_power: float = 1.5,
        num_leaves: int = 4,
        learning_rate: float = 0.02,
        min_child_samples: int = 50,
        lambda_l2: float = 1.0,
        max_rounds: int = 2000,
        n_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.tweedie_variance_power = tweedie_variance_power
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.lambda_l2 = lambda_l2
        self.max_rounds = max_rounds
        self.n_folds = n_folds
        self.random_state = random_state

    def _lgb_params(self, n_rows: int) -> dict[str, Any]:
        return {
            "objective": "tweedie",
            "tweedie_variance_power": self.tweedie_variance_power,
            **tree_params(
                num_leaves=self.num_leaves,
                learning_rate=self.learning_rate,
                min_child_samples=self.min_child_samples,
                feature_fraction=0.8,
                lambda_l2=self.lambda_l2,
                seed=self.random_state,
                n_rows=n_rows,
            ),
        }

    def fit(self, features: pd.DataFrame, spend: npt.ArrayLike) -> Self:
        """Learn from one row per customer and what they spent in the window (>= 0)."""
        target = np.asarray(spend, dtype=np.float64)
        if len(target) != len(features):
            raise ValidationFailedError(
                f"{len(features)} feature rows but {len(target)} spend values; they must align"
            )
        spenders = int(np.sum(target > 0))
        if len(target) < MIN_ROWS or spenders < self.n_folds:
            raise ValidationFailedError(
                f"cannot learn spend from {len(target)} customers of whom {spenders} spent "
                f"anything; it needs {MIN_ROWS} customers and at least {self.n_folds} who "
                "spent (import more history)"
            )
        if np.any(target < 0) or not np.all(np.isfinite(target)):
            raise ValidationFailedError("spend must be finite and >= 0")
        columns = [str(name) for name in features.columns]
        matrix = feature_matrix(features, columns)
        params = self._lgb_params(len(matrix))
        # Folds stratified by "spent anything": every training fold has spenders (a
        # Tweedie fit on all-zero labels is undefined).
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        self.oof_predictions_, self.n_rounds_ = cross_fit(
            params,
            matrix,
            target,
            folds.split(matrix, target > 0),
            columns=columns,
            max_rounds=self.max_rounds,
        )
        self.booster_ = train_booster(
            params, matrix, target, columns=columns, rounds=self.n_rounds_
        )
        self.feature_names_ = columns
        return self

    def predict(self, features: pd.DataFrame) -> FloatArray:
        """Expected spend per customer in the window, shape ``(n_customers,)``."""
        if self.booster_ is None or self.feature_names_ is None:
            raise NotFittedError("SpendRegressor is not fitted yet; call fit() or load()")
        if len(features) == 0:
            return np.zeros(0)
        return predict(self.booster_, feature_matrix(features, self.feature_names_))

    def save(self, directory: Path, name: str) -> None:
        """LightGBM's text model ``<name>.lgb.txt`` and ``<name>.json`` (no pickle)."""
        if self.booster_ is None:
            raise NotFittedError("SpendRegressor is not fitted yet; nothing to save")
        manifest = {"feature_names": self.feature_names_, "n_rounds": self.n_rounds_}
        save_booster(
            directory,
            self.booster_,
            model_file=f"{name}.lgb.txt",
            manifest_file=f"{name}.json",
            manifest=manifest,
        )

    @classmethod
    def load(cls, directory: Path, name: str) -> SpendRegressor:
        model = cls()
        model.booster_, manifest = load_booster(
            directory, model_file=f"{name}.lgb.txt", manifest_file=f"{name}.json"
        )
        model.feature_names_ = list(manifest["feature_names"])
        model.n_rounds_ = manifest["n_rounds"]
        return model


__all__ = ["SpendRegressor"]
