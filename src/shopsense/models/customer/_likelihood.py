"""Maximum likelihood of the probabilistic customer models (BG/NBD, Gamma-Gamma): their
positive parameters are searched on a log scale with L-BFGS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from shopsense.core.errors import ValidationFailedError

FloatArray = npt.NDArray[np.float64]


def maximise_likelihood(
    log_likelihood: Callable[[FloatArray], FloatArray],
    start: FloatArray,
    *,
    penalizer: float,
    model: str,
) -> tuple[FloatArray, float]:
    """The parameters maximising ``log_likelihood(params).sum()`` (minus an L2
    ``penalizer`` on the parameters), searched from ``start`` on the log scale, and
    the unpenalised total log-likelihood there."""

    def objective(log_params: FloatArray) -> float:
        params = np.exp(log_params)
        values = log_likelihood(params)
        return -float(values.sum()) / len(values) + penalizer * float(np.sum(params**2))

    result = minimize(objective, np.log(start), method="L-BFGS-B")
    if not np.isfinite(result.fun):
        raise ValidationFailedError(f"{model} did not converge: {result.message}")
    params = np.asarray(np.exp(result.x), dtype=np.float64)
    return params, float(log_likelihood(params).sum())
