"""Adjusted p-values for many comparisons at once (metrics x variants of one experiment).

- Holm (1979), "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian
  Journal of Statistics 6(2):65-70: controls the family-wise error rate (the chance of
  any false positive). With the ``m`` p-values sorted ascending,
  ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` (step-down).
- Benjamini & Hochberg (1995), "Controlling the False Discovery Rate: A Practical and
  Powerful Approach to Multiple Testing", Journal of the Royal Statistical Society B
  57(1):289-300: controls the expected share of false positives among the rejections.
  ``p~_(i) = min_{j >= i} min(1, m p_(j) / j)`` (step-up).

A hypothesis is rejected at level ``alpha`` when its adjusted p-value is at most
``alpha``; both adjustments are monotone in the raw p-values and capped at 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments._common import FloatArray

AdjustmentMethod = Literal["holm", "bh"]


def adjust_p_values(p_values: npt.ArrayLike, method: AdjustmentMethod = "holm") -> FloatArray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"bh"``) adjusted p-values.

    ``p_values``: any shape (e.g. ``(n_metrics, n_variants)``), every entry in [0, 1];
    the family is all of them. Returns float64 of the same shape.
    """
    raw = np.asarray(p_values, dtype=np.float64)
    if raw.size == 0:
        raise ValidationFailedError("adjust_p_values needs at least one p-value")
    if not np.all(np.isfinite(raw)) or np.any((raw < 0.0) | (raw > 1.0)):
        raise ValidationFailedError(
            "p-values must lie in [0, 1]; drop comparisons without a p-value before adjusting"
        )
    flat = raw.ravel()
    n_tests = flat.size
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    rank = np.arange(1, n_tests + 1, dtype=np.float64)
    if method == "holm":
        adjusted_sorted = np.maximum.accumulate(np.minimum(1.0, (n_tests - rank + 1.0) * ordered))
    elif method == "bh":
        scaled = np.minimum(1.0, n_tests * ordered / rank)
        adjusted_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    else:
        raise ValidationFailedError(f"unknown method {method!r}; use 'holm' or 'bh'")
    adjusted = np.empty_like(flat)
    adjusted[order] = adjusted_sorted
    result: FloatArray = adjusted.reshape(raw.shape)
    return result
