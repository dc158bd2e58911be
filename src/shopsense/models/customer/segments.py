"""Customer segments: RFM scores with named segments, and learned behavioural clusters.

:class:`RFMSegmenter` scores recency, frequency and monetary value from 1 to 5 against
cut points learned on a fitted population (quantile edges), so that a customer scored
later, alone or in another batch, gets the scores the fitted population would have given
them. The R score and ``FM = round-half-up((F + M) / 2)`` place each customer in one cell
of the usual 5 x 5 grid, and :data:`SEGMENT_GRID` names the 11 segments of that grid
(Champions, Loyal, ..., Lost); :data:`SEGMENTS` describes each one in a line and
suggests what to do about it.

Ties are normal (most customers of most shops buy once): a value scores one point for
each cut point it is strictly better than, so equal values always get equal scores, a
block of ties gets the score of its lowest member (customers with one purchase day get
F = 1, not 1-3 by the order of the rows), and scoring is deterministic.

:class:`BehaviourClusters` learns clusters with k-means on standardised ``log1p``
features (RFM, tenure, gaps, basket breadth), chooses their number by the silhouette
score on a fixed-seed sample, and describes each cluster in words with numbers
("recent buyers (last purchase 12 days ago vs 61 overall), frequent (6 purchase days
vs 2)"). Both models save to JSON-able dicts (``to_dict``/``from_dict``), not pickles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from shopsense.core.errors import NotFittedError, ValidationFailedError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RECENCY = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
RFM_COLUMNS: tuple[str, str, str] = (RECENCY, FREQUENCY, MONETARY)
"""The columns :class:`RFMSegmenter` reads: days since the last purchase (>= 0),
purchase days (>= 1) and total spend (>= 0)."""

GRID_LEVELS = 5
"""The R and FM levels of the segment grid (1 = worst, 5 = best)."""

CHAMPIONS = "Champions"
LOYAL = "Loyal"
POTENTIAL_LOYALISTS = "Potential loyalists"
NEW = "New"
PROMISING = "Promising"
NEED_ATTENTION = "Need attention"
ABOUT_TO_SLEEP = "About to sleep"
AT_RISK = "At risk"
CANNOT_LOSE_THEM = "Cannot lose them"
HIBERNATING = "Hibernating"
LOST = "Lost"

SEGMENT_NAMES: tuple[str, ...] = (
    CHAMPIONS,
    LOYAL,
    POTENTIAL_LOYALISTS,
    NEW,
    PROMISING,
    NEED_ATTENTION,
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANNOT_LOSE_THEM,
    HIBERNATING,
    LOST,
)
"""The 11 RFM segments, roughly from the most to the least valuable."""


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One RFM segment: its name, who is in it, and what to do about them."""

    name: str
    description: str
    action: str


SEGMENTS: dict[str, SegmentInfo] = {
    info.name: info
    for info in (
        SegmentInfo(
            CHAMPIONS,
            "bought very recently, buy often and spend the most",
            "reward them; early access, ask for reviews and referrals",
        ),
        SegmentInfo(
            LOYAL,
            "buy often and spend well, though not in the last few days",
            "upsell higher-value products; invite them to the loyalty programme",
        ),
        SegmentInfo(
            POTENTIAL_LOYALISTS,
            "recent customers with average frequency and spend",
            "offer a membership or loyalty programme; recommend related products",
        ),
        SegmentInfo(
            NEW,
            "bought very recently, but rarely and for little so far",
            "onboard them; a welcome series and help with their first purchases",
        ),
        SegmentInfo(
            PROMISING,
            "fairly recent buyers who have bought little so far",
            "build awareness; a small incentive for the next purchase",
        ),
        SegmentInfo(
            NEED_ATTENTION,
            "average recency, frequency and spend",
            "limited-time offers; recommendations based on past purchases",
        ),
        SegmentInfo(
            ABOUT_TO_SLEEP,
            "have not bought for a while, and rarely bought for much",
            "share popular products and a discount before they lapse",
        ),
        SegmentInfo(
            AT_RISK,
            "bought often and spent well, but not for a long time",
            "win-back offer with personalised picks",
        ),
        SegmentInfo(
            CANNOT_LOSE_THEM,
            "were among the best customers, but have not bought for a long time",
            "win them back personally with a strong offer; ask what went wrong",
        ),
        SegmentInfo(
            HIBERNATING,
            "last bought long ago, rarely and for little",
            "relevant products and special discounts; do not over-mail them",
        ),
        SegmentInfo(
            LOST,
            "the lowest recency, frequency and spend",
            "one reactivation campaign, then stop spending on them",
        ),
    )
}
"""Each segment's one-line description and suggested action, by name."""

_GRID_ROWS: dict[int, tuple[str, str, str, str, str]] = {
    # R score: segments for FM = 1, 2, 3, 4, 5.
    5: (NEW, POTENTIAL_LOYALISTS, POTENTIAL_LOYALISTS, CHAMPIONS, CHAMPIONS),
    4: (PROMISING, POTENTIAL_LOYALISTS, POTENTIAL_LOYALISTS, LOYAL, LOYAL),
    3: (ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL),
    2: (HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANNOT_LOSE_THEM),
    1: (LOST, HIBERNATING, AT_RISK, AT_RISK, CANNOT_LOSE_THEM),
}

SEGMENT_GRID: dict[tuple[int, int], str] = {
    (r, fm): name for r, row in _GRID_ROWS.items() for fm, name in enumerate(row, start=1)
}
"""The segment of each ``(R, FM)`` cell of the 5 x 5 grid, both from 1 to 5."""


def _grid_lookup() -> npt.NDArray[np.object_]:
    """:data:`SEGMENT_GRID` as an array indexed ``[R, FM]``, for vectorised look-ups."""
    lookup = np.full((GRID_LEVELS + 1, GRID_LEVELS + 1), "", dtype=object)
    for (r, fm), name in SEGMENT_GRID.items():
        lookup[r, fm] = name
    return lookup


def _fail(message: str, **details: Any) -> ValidationFailedError:
    return ValidationFailedError(message, details=details or None)


def _check_frame(frame: object, who: str) -> pd.DataFrame:
    """``frame`` as a non-empty DataFrame with one row per customer id."""
    if not isinstance(frame, pd.DataFrame):
        raise _fail(
            f"{who} needs a pandas DataFrame indexed by customer id, got {type(frame).__name__}"
        )
    if frame.empty:
        raise _fail(f"{who} got no customers; pass at least one row per customer who bought")
    if not frame.index.is_unique:
        duplicated = frame.index[frame.index.duplicated()].unique()[:5].tolist()
        raise _fail(
            f"{who} needs one row per customer, but some customer ids repeat "
            f"(e.g. {duplicated}); aggregate to one row per customer first",
            duplicated=[str(value) for value in duplicated],
        )
    return frame


def _numeric_column(frame: pd.DataFrame, column: str, who: str, *, allow_nan: bool) -> FloatArray:
    """One column as float64, rejecting text and infinities (and NaN unless allowed)."""
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise _fail(
            f"{who}: column {column!r} must be numeric, got dtype {series.dtype}",
            column=column,
        )
    values = np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        examples = [str(value) for value in frame.index[bad][:5]]
        what = "infinite" if allow_nan else "missing or infinite"
        raise _fail(
            f"{who}: column {column!r} has {int(bad.sum())} {what} values "
            f"(customers {examples}); fill or drop them first",
            column=column,
            customers=examples,
        )
    return values


def _rfm_values(frame: object, who: str) -> dict[str, FloatArray]:
    """The validated R, F and M columns of ``frame``."""
    checked = _check_frame(frame, who)
    missing = [column for column in RFM_COLUMNS if column not in checked.columns]
    if missing:
        raise _fail(
            f"{who}: the frame lacks the columns {missing}; it needs recency_days (days "
            "since the last purchase), frequency (purchase days) and monetary (total spend) "
            "per customer, as customer_features() computes them",
            missing=missing,
        )
    values = {
        column: _numeric_column(checked, column, who, allow_nan=False) for column in RFM_COLUMNS
    }
    for column, minimum in ((RECENCY, 0.0), (FREQUENCY, 1.0), (MONETARY, 0.0)):
        below = values[column] < minimum
        if below.any():
            examples = [str(value) for value in checked.index[below][:5]]
            raise _fail(
                f"{who}: {column} must be >= {minimum:g}, but {int(below.sum())} customers "
                f"have less (e.g. {examples}); keep only customers who bought",
                column=column,
                customers=examples,
            )
    return values


def _grid_level(scores: IntArray, n_bins: int) -> IntArray:
    """Scores 1..n_bins on the 1..5 grid: the level of each bin's centre (the identity
    for five bins)."""
    return np.asarray(((2 * scores - 1) * GRID_LEVELS) // (2 * n_bins) + 1, dtype=np.int64)


class RFMSegmenter:
    """RFM scores (1 = worst, ``n_bins`` = best) against cut points learned by ``fit``,
    and the named segment of each customer (see the module docstring).

    Parameters
    ----------
    n_bins:
        Score levels per dimension (quantile bins of the fitted population). The grid of
        named segments has five levels; with another number of bins each bin is placed on
        the grid by its centre.

    Attributes (after ``fit``)
    --------------------------
    edges_:
        For each of ``recency_days``, ``frequency`` and ``monetary``, the ``n_bins - 1``
        interior quantile edges of the fitted population, ascending.
    n_customers_:
        How many customers the edges were learned on.
    """

    edges_: dict[str, FloatArray] | None = None
    n_customers_: int | None = None

    def __init__(self, *, n_bins: int = 5) -> None:
        self.n_bins = n_bins

    def _check_params(self) -> None:
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, int) or self.n_bins < 2:
            raise _fail(f"n_bins must be an integer >= 2, got {self.n_bins!r}")

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn the quantile edges of recency, frequency and monetary value."""
        self._check_params()
        values = _rfm_values(frame, "RFMSegmenter.fit")
        levels = np.arange(1, self.n_bins, dtype=np.float64) / self.n_bins
        self.edges_ = {
            column: np.asarray(np.quantile(column_values, levels), dtype=np.float64)
            for column, column_values in values.items()
        }
        self.n_customers_ = len(frame)
        return self

    def _edges(self) -> dict[str, FloatArray]:
        if self.edges_ is None:
            raise NotFittedError("RFMSegmenter is not fitted yet; call fit(frame) first")
        return self.edges_

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``r_score``, ``f_score``, ``m_score`` (integers, 1 to ``n_bins``) and
        ``segment`` of each customer of ``frame``, on the fitted edges and with the
        frame's index. A value scores one point above 1 for each edge it is strictly
        better than (fewer days since the last purchase, more purchase days, more
        spend)."""
        edges = self._edges()
        values = _rfm_values(frame, "RFMSegmenter.score")
        top = self.n_bins - 1
        recency = top - np.searchsorted(edges[RECENCY], values[RECENCY], side="right")
        frequency = np.searchsorted(edges[FREQUENCY], values[FREQUENCY], side="left")
        monetary = np.searchsorted(edges[MONETARY], values[MONETARY], side="left")
        r_score = np.asarray(recency + 1, dtype=np.int64)
        f_score = np.asarray(frequency + 1, dtype=np.int64)
        m_score = np.asarray(monetary + 1, dtype=np.int64)
        r_level = _grid_level(r_score, self.n_bins)
        f_level = _grid_level(f_score, self.n_bins)
        m_level = _grid_level(m_score, self.n_bins)
        fm_level = (f_level + m_level + 1) // 2  # round half up
        segment = _grid_lookup()[r_level, fm_level]
        return pd.DataFrame(
            {
                "r_score": r_score,
                "f_score": f_score,
                "m_score": m_score,
                "segment": pd.Series(segment, index=frame.index, dtype=object),
            },
            index=frame.index,
        )

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The same as :meth:`score` (the scikit-learn name)."""
        return self.score(frame)

    def to_dict(self) -> dict[str, Any]:
        """The fitted segmenter as a JSON-able dict (see :meth:`from_dict`)."""
        edges = self._edges()
        return {
            "kind": "RFMSegmenter",
            "version": 1,
            "n_bins": self.n_bins,
            "n_customers": self.n_customers_,
            "edges": {column: [float(value) for value in edges[column]] for column in RFM_COLUMNS},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """A fitted segmenter from :meth:`to_dict`'s dict."""
        if not isinstance(data, dict) or data.get("kind") != "RFMSegmenter":
            raise _fail("not a saved RFMSegmenter: expected a dict with kind 'RFMSegmenter'")
        try:
            model = cls(n_bins=int(data["n_bins"]))
            model._check_params()
            edges = {
                column: np.asarray(data["edges"][column], dtype=np.float64)
                for column in RFM_COLUMNS
            }
            n_customers = data.get("n_customers")
            model.n_customers_ = None if n_customers is None else int(n_customers)
        except (KeyError, TypeError, ValueError) as error:
            raise _fail(f"saved RFMSegmenter is malformed: {error!r}") from error
        for column, column_edges in edges.items():
            if (
                column_edges.shape != (model.n_bins - 1,)
                or not np.isfinite(column_edges).all()
                or np.any(np.diff(column_edges) < 0)
            ):
                raise _fail(
                    f"saved RFMSegmenter is malformed: {column} needs {model.n_bins - 1} "
                    "finite ascending edges"
                )
        model.edges_ = edges
        return model


DEFAULT_CLUSTER_COLUMNS: tuple[str, ...] = (
    RECENCY,
    FREQUENCY,
    MONETARY,
    "tenure_days",
    "gap_mean_days",
    "distinct_items",
)
"""The behaviour :class:`BehaviourClusters` reads by default (those a frame has)."""


@dataclass(frozen=True, slots=True)
class _Wording:
    """How a feature is put in words: adjectives for the short name, a head for the
    description, and the detail with the cluster's value (``{value}``, with ``unit``)."""

    low_adjective: str
    high_adjective: str
    low_head: str
    high_head: str
    detail: str
    unit: str = ""


_WORDING: dict[str, _Wording] = {
    RECENCY: _Wording(
        "recent", "lapsed", "recent buyers", "lapsed buyers", "last purchase {value} ago", "day"
    ),
    FREQUENCY: _Wording(
        "infrequent", "frequent", "infrequent", "frequent", "{value}", "purchase day"
    ),
    MONETARY: _Wording("low-spend", "high-spend", "low spend", "high spend", "spend {value}"),
    "tenure_days": _Wording(
        "new",
        "long-standing",
        "newer customers",
        "long-standing customers",
        "first purchase {value} ago",
        "day",
    ),
    "gap_mean_days": _Wording(
        "quick-return",
        "slow-return",
        "quick to return",
        "slow to return",
        "{value} between purchases",
        "day",
    ),
    "distinct_items": _Wording(
        "narrow-basket",
        "broad-basket",
        "few distinct items",
        "many distinct items",
        "{value}",
        "distinct item",
    ),
}

MIN_DISTINCTIVE_Z = 0.25
"""A cluster's centre must lie this many standard deviations from the mean on a feature
for the description to mention it."""


def _wording(column: str) -> _Wording:
    if column in _WORDING:
        return _WORDING[column]
    label = column.replace("_", " ")
    hyphenated = column.replace("_", "-")
    return _Wording(
        f"low-{hyphenated}",
        f"high-{hyphenated}",
        f"low {label}",
        f"high {label}",
        f"{label} {{value}}",
    )


def _number(value: float) -> str:
    """``1,240``, ``61``, ``2.5``: whole numbers and values from 10 up without decimals."""
    if abs(value) >= 10 or math.isclose(value, round(value), abs_tol=1e-9):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _quantity(value: float, unit: str) -> str:
    number = _number(value)
    if not unit:
        return number
    return f"{number} {unit}" if number in ("1", "-1") else f"{number} {unit}s"


def _signed_log1p(values: FloatArray) -> FloatArray:
    """``log1p`` that also takes negative values (mirrored)."""
    return np.asarray(np.sign(values) * np.log1p(np.abs(values)), dtype=np.float64)


def _describe(
    columns: list[str],
    z_center: FloatArray,
    cluster_stats: FloatArray,
    population_stats: FloatArray,
) -> tuple[str, str]:
    """A cluster's description and short name from its most distinctive features.

    ``cluster_stats`` and ``population_stats`` hold the median (row 0) and the mean (row
    1) of each raw feature. The medians are compared; where they are equal (most
    customers buy on one day, so the median frequency is often 1 everywhere) the means
    are, and the phrase says "on average". A feature is mentioned only where the numbers
    agree in direction with the centre and the centre is at least
    :data:`MIN_DISTINCTIVE_Z` from the mean: the two most distinctive, and a third when it
    is at least half as distinctive as the first.
    """
    candidates: list[tuple[float, int, bool]] = []
    for position in range(len(columns)):
        z = float(z_center[position])
        if abs(z) < MIN_DISTINCTIVE_Z:
            continue
        for averaged in (False, True):
            value = float(cluster_stats[int(averaged), position])
            population = float(population_stats[int(averaged), position])
            if math.isfinite(value) and _number(value) != _number(population):
                if (value > population) == (z > 0):  # the numbers agree with the words
                    candidates.append((abs(z), position, averaged))
                break
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1]))
    chosen = candidates[:2] + [
        candidate for candidate in candidates[2:3] if candidate[0] >= 0.5 * candidates[0][0]
    ]
    if not chosen:
        return "typical customers (close to the overall median on every feature)", "typical"
    phrases: list[str] = []
    adjectives: list[str] = []
    for index, (_, position, averaged) in enumerate(sorted(chosen, key=lambda item: item[1])):
        wording = _wording(columns[position])
        high = bool(z_center[position] > 0)
        row = int(averaged)
        detail = wording.detail.format(
            value=_quantity(float(cluster_stats[row, position]), wording.unit)
        )
        if averaged:
            detail += " on average"
        overall = _number(float(population_stats[row, position]))
        suffix = " overall" if index == 0 else ""
        head = wording.high_head if high else wording.low_head
        phrases.append(f"{head} ({detail} vs {overall}{suffix})")
        adjectives.append(wording.high_adjective if high else wording.low_adjective)
    return ", ".join(phrases), " ".join(adjectives)


class BehaviourClusters:
    """Behavioural clusters of customers: k-means on standardised ``log1p`` features,
    with the number of clusters chosen by the silhouette score (see the module
    docstring).

    Parameters
    ----------
    max_clusters:
        The largest number of clusters tried; every k from 2 to it (and below the number
        of distinct customers) is tried.
    columns:
        The features to cluster on; those missing from the fitted frame are skipped, and
        so are those without variation (or without any value).
    sample_size:
        The number of customers (at most) that k is chosen on, drawn with
        ``random_state``; the final clusters are refined on all customers.
    random_state:
        Seed of the sample and of k-means.

    Attributes (after ``fit``)
    --------------------------
    n_clusters_, columns_:
        The chosen k and the features used.
    medians_, means_, scales_:
        Per feature: the population median of the raw values (fills NaN), and the mean and
        standard deviation of ``log1p`` of the filled values (standardise them).
    centers_:
        ``(n_clusters_, len(columns_))`` cluster centres in standardised units.
    silhouette_:
        Silhouette score of each k tried.
    sizes_, cluster_medians_:
        Customers per cluster, and each cluster's median of each raw feature (NaN where
        the cluster has no value).
    descriptions_, names_:
        A sentence and a short name per cluster ("recent frequent high-spend").

    Clusters are numbered by size, largest first.
    """

    n_clusters_: int | None = None
    columns_: list[str] | None = None
    medians_: FloatArray | None = None
    means_: FloatArray | None = None
    scales_: FloatArray | None = None
    centers_: FloatArray | None = None
    silhouette_: dict[int, float] | None = None
    sizes_: list[int] | None = None
    cluster_medians_: FloatArray | None = None
    descriptions_: list[str] | None = None
    names_: list[str] | None = None

    def __init__(
        self,
        *,
        max_clusters: int = 8,
        columns: tuple[str, ...] = DEFAULT_CLUSTER_COLUMNS,
        sample_size: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.max_clusters = max_clusters
        self.columns = columns
        self.sample_size = sample_size
        self.random_state = random_state

    def _check_params(self) -> None:
        for name, minimum in (("max_clusters", 2), ("sample_size", 3)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _fail(f"{name} must be an integer >= {minimum}, got {value!r}")
        columns: object = self.columns
        if (
            not isinstance(columns, tuple | list)
            or not columns
            or not all(isinstance(column, str) for column in columns)
        ):
            raise _fail(f"columns must be a non-empty tuple of column names, got {self.columns!r}")

    def fit(self, frame: pd.DataFrame) -> Self:
        """Choose k, learn the clusters and describe them."""
        self._check_params()
        # Imported here: scikit-learn is only needed to fit, not to load or predict.
        from sklearn.cluster import KMeans  # noqa: PLC0415
        from sklearn.metrics import silhouette_score  # noqa: PLC0415
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

        who = "BehaviourClusters.fit"
        checked = _check_frame(frame, who)
        present = [column for column in dict.fromkeys(self.columns) if column in checked.columns]
        if not present:
            raise _fail(
                f"{who}: the frame has none of the columns {list(self.columns)}; pass "
                "customer_features() output or set columns=",
                columns=list(self.columns),
            )
        raw = np.column_stack(
            [_numeric_column(checked, column, who, allow_nan=True) for column in present]
        )
        with np.errstate(all="ignore"):
            medians = np.asarray(
                [np.nanmedian(col) if np.isfinite(col).any() else np.nan for col in raw.T]
            )
        filled = np.where(np.isnan(raw), medians, raw)
        logged = _signed_log1p(filled)
        means = logged.mean(axis=0)
        scales = logged.std(axis=0)
        keep = np.isfinite(medians) & (scales > 1e-12 * np.maximum(1.0, np.abs(means)))
        if not keep.any():
            raise _fail(
                f"{who}: no column varies across customers ({present}); clustering needs "
                "at least 3 customers with different behaviour"
            )
        columns = [column for column, kept in zip(present, keep, strict=True) if kept]
        raw, medians, means, scales = raw[:, keep], medians[keep], means[keep], scales[keep]
        features = (logged[:, keep] - means) / scales
        n_distinct = len(np.unique(features, axis=0))
        if n_distinct < 3:
            raise _fail(
                f"{who}: only {n_distinct} distinct customer(s) on {columns}; clustering "
                "needs at least 3 customers with different behaviour"
            )

        rng = np.random.default_rng(self.random_state)
        n_customers = len(features)
        if n_customers > self.sample_size:
            rows = np.sort(rng.choice(n_customers, size=self.sample_size, replace=False))
            sample = features[rows]
        else:
            sample = features
        largest = min(self.max_clusters, len(np.unique(sample, axis=0)) - 1)
        if largest < 2:
            raise _fail(
                f"{who}: the sample of {len(sample)} customers has fewer than 3 distinct "
                "ones; raise sample_size"
            )
        silhouette: dict[int, float] = {}
        fitted: dict[int, Any] = {}
        # One thread: on a sample this small, threads cost more than they save, and
        # OpenMP threads spin badly on a busy machine.
        with threadpool_limits(limits=1):
            for k in range(2, largest + 1):
                model = KMeans(n_clusters=k, n_init=4, random_state=self.random_state)
                labels = model.fit_predict(sample)
                fitted[k] = model
                if len(np.unique(labels)) < 2:
                    silhouette[k] = -1.0
                    continue
                silhouette[k] = float(silhouette_score(sample, labels))
        best = max(silhouette, key=lambda k: (silhouette[k], -k))  # ties: the fewer clusters
        centers = np.asarray(fitted[best].cluster_centers_, dtype=np.float64)
        if sample is not features:  # refine on everyone, starting from the sample's centres
            final = KMeans(n_clusters=best, init=centers, n_init=1, random_state=self.random_state)
            centers = np.asarray(final.fit(features).cluster_centers_, dtype=np.float64)

        labels = _nearest(features, centers)
        sizes = np.bincount(labels, minlength=best)
        order = np.lexsort((np.arange(best), -sizes))  # largest first, stable
        centers, sizes = centers[order], sizes[order]
        labels = np.argsort(order)[labels]

        with np.errstate(all="ignore"):
            population_stats = np.vstack([medians, np.nanmean(raw, axis=0)])
            cluster_stats = np.full((best, 2, len(columns)), np.nan)
            for cluster in range(best):
                members = raw[labels == cluster]
                for position in range(len(columns)):
                    values = members[:, position]
                    values = values[np.isfinite(values)]
                    if len(values):
                        cluster_stats[cluster, :, position] = (np.median(values), values.mean())
        described = [
            _describe(columns, centers[cluster], cluster_stats[cluster], population_stats)
            for cluster in range(best)
        ]
        cluster_medians = cluster_stats[:, 0, :]
        self.n_clusters_ = best
        self.columns_ = columns
        self.medians_ = np.asarray(medians, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.scales_ = np.asarray(scales, dtype=np.float64)
        self.centers_ = centers
        self.silhouette_ = silhouette
        self.sizes_ = [int(size) for size in sizes]
        self.cluster_medians_ = cluster_medians
        self.descriptions_ = [description for description, _ in described]
        self.names_ = _unique_names([name for _, name in described])
        return self

    def _fitted(self) -> tuple[list[str], FloatArray, FloatArray, FloatArray, FloatArray]:
        if (
            self.columns_ is None
            or self.medians_ is None
            or self.means_ is None
            or self.scales_ is None
            or self.centers_ is None
        ):
            raise NotFittedError("BehaviourClusters is not fitted yet; call fit(frame) first")
        return self.columns_, self.medians_, self.means_, self.scales_, self.centers_

    def transform(self, frame: pd.DataFrame) -> FloatArray:
        """The standardised ``log1p`` features of ``frame`` (NaN filled with the fitted
        medians), one row per customer, in the order of ``columns_``."""
        columns, medians, means, scales, _ = self._fitted()
        who = "BehaviourClusters.predict"
        checked = _check_frame(frame, who)
        missing = [column for column in columns if column not in checked.columns]
        if missing:
            raise _fail(
                f"{who}: the frame lacks the columns {missing} the clusters were fitted on",
                missing=missing,
            )
        raw = np.column_stack(
            [_numeric_column(checked, column, who, allow_nan=True) for column in columns]
        )
        filled = np.where(np.isnan(raw), medians, raw)
        return np.asarray((_signed_log1p(filled) - means) / scales, dtype=np.float64)

    def predict(self, frame: pd.DataFrame) -> IntArray:
        """The cluster of each customer of ``frame``: the nearest fitted centre."""
        centers = self._fitted()[4]
        return _nearest(self.transform(frame), centers)

    def to_dict(self) -> dict[str, Any]:
        """The fitted clusters as a JSON-able dict (NaN as ``None``; see
        :meth:`from_dict`)."""
        columns, medians, means, scales, centers = self._fitted()
        return {
            "kind": "BehaviourClusters",
            "version": 1,
            "params": {
                "max_clusters": self.max_clusters,
                "columns": list(self.columns),
                "sample_size": self.sample_size,
                "random_state": self.random_state,
            },
            "n_clusters": self.n_clusters_,
            "columns": list(columns),
            "medians": medians.tolist(),
            "means": means.tolist(),
            "scales": scales.tolist(),
            "centers": centers.tolist(),
            "silhouette": {str(k): value for k, value in (self.silhouette_ or {}).items()},
            "sizes": list(self.sizes_ or []),
            "cluster_medians": [
                [None if math.isnan(value) else value for value in row]
                for row in (
                    self.cluster_medians_.tolist() if self.cluster_medians_ is not None else []
                )
            ],
            "descriptions": list(self.descriptions_ or []),
            "names": list(self.names_ or []),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Fitted clusters from :meth:`to_dict`'s dict."""
        if not isinstance(data, dict) or data.get("kind") != "BehaviourClusters":
            raise _fail(
                "not saved BehaviourClusters: expected a dict with kind 'BehaviourClusters'"
            )
        try:
            params = data["params"]
            model = cls(
                max_clusters=int(params["max_clusters"]),
                columns=tuple(str(column) for column in params["columns"]),
                sample_size=int(params["sample_size"]),
                random_state=int(params["random_state"]),
            )
            columns = [str(column) for column in data["columns"]]
            vectors = [
                np.asarray(data[key], dtype=np.float64) for key in ("medians", "means", "scales")
            ]
            centers = np.asarray(data["centers"], dtype=np.float64)
            cluster_medians = np.asarray(
                [
                    [np.nan if value is None else value for value in row]
                    for row in data["cluster_medians"]
                ],
                dtype=np.float64,
            )
            model.n_clusters_ = int(data["n_clusters"])
            model.silhouette_ = {int(k): float(v) for k, v in data["silhouette"].items()}
            model.sizes_ = [int(size) for size in data["sizes"]]
            model.descriptions_ = [str(text) for text in data["descriptions"]]
            model.names_ = [str(name) for name in data["names"]]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise _fail(f"saved BehaviourClusters are malformed: {error!r}") from error
        k, d = model.n_clusters_, len(columns)
        if (
            any(vector.shape != (d,) or not np.isfinite(vector).all() for vector in vectors)
            or centers.shape != (k, d)
            or not np.isfinite(centers).all()
            or np.any(vectors[2] <= 0)
            or len(model.descriptions_) != k
            or len(model.names_) != k
        ):
            raise _fail(
                f"saved BehaviourClusters are malformed: expected {k} centres over {d} "
                "columns with finite medians, means, positive scales and a description each"
            )
        model.columns_ = columns
        model.medians_, model.means_, model.scales_ = vectors
        model.centers_ = centers
        model.cluster_medians_ = cluster_medians if cluster_medians.shape == (k, d) else None
        return model


def _nearest(features: FloatArray, centers: FloatArray) -> IntArray:
    """The index of the nearest centre (Euclidean) of each row; ties to the lowest."""
    squared = (
        np.sum(features**2, axis=1)[:, None]
        - 2.0 * features @ centers.T
        + np.sum(centers**2, axis=1)[None, :]
    )
    return np.asarray(np.argmin(squared, axis=1), dtype=np.int64)


def _unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats numbered: "lapsed", "lapsed (2)"."""
    seen: dict[str, int] = {}
    unique: list[str] = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


__all__ = [
    "ABOUT_TO_SLEEP",
    "AT_RISK",
    "CANNOT_LOSE_THEM",
    "CHAMPIONS",
    "DEFAULT_CLUSTER_COLUMNS",
    "FREQUENCY",
    "GRID_LEVELS",
    "HIBERNATING",
    "LOST",
    "LOYAL",
    "MIN_DISTINCTIVE_Z",
    "MONETARY",
    "NEED_ATTENTION",
    "NEW",
    "POTENTIAL_LOYALISTS",
    "PROMISING",
    "RECENCY",
    "RFM_COLUMNS",
    "SEGMENTS",
    "SEGMENT_GRID",
    "SEGMENT_NAMES",
    "BehaviourClusters",
    "RFMSegmenter",
    "SegmentInfo",
]
