"""A learning-to-rank re-ranker over candidates from several recommenders (LightGBM).

The two-stage design of industrial recommenders (Covington, Adams & Sargin, "Deep Neural
Networks for YouTube Recommendations", RecSys 2016): cheap *sources* each propose their
top candidates, and a ranker that sees every source's opinion plus item, user and
user-item features orders the union. The ranker is LightGBM's LambdaMART (Burges, "From
RankNet to LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82; Ke et al., "LightGBM",
NeurIPS 2017), trained on held-out interactions, never on the data it ranks at test time:

- with ``fit(interactions, validation=Holdout)`` (the protocol's own validation targets,
  e.g. seq-loo's second-to-last items) the sources are fitted once on ``interactions``,
  the ranker learns to put the held-out targets first among the sources' candidates,
  and the same sources serve;
- otherwise the ranker makes its own holdout: the last ``holdout_days`` of interactions
  (a shop's "next quarter") are the labels, the sources are fitted on what came before,
  the ranker is trained (optionally on earlier windows too), and then the sources are
  refitted on everything.

Two rankers are learned from the same candidates: one over all candidates (repurchases
count, as ``exclude_seen=False`` asks) and one over the items new to each user (for
``exclude_seen=True``, discovery), so each list is ranked by a model trained for it.

Features of a (user, item) pair: each source's score and rank (absent: rank
``candidates_per_source``); the item's popularity, its recent popularity and trend, its
age and price; the user's history length, distinct items and days since their last
interaction; how often the user had the item, days since they last had it and that
gap divided by their usual re-buy interval for it (the repurchase cycle); the price
relative to the user's usual price (price band); and the share of the user's history
in the item's category. Missing values are NaN, which LightGBM handles natively.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ConfigurationError, ValidationFailedError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    SECONDS_PER_DAY,
    ScoringRecommender,
    check_histories,
    check_times,
    model_params,
    rank_in_batches,
)
from shopsense.models.recommend.base import (
    FloatArray,
    Holdout,
    IntArray,
    Recommendations,
    Recommender,
    accepts_holdout,
    check_fitted,
    read_manifest,
    write_manifest,
)

if TYPE_CHECKING:
    import lightgbm

logger = logging.getLogger(__name__)

DEFAULT_SOURCES = ("ease", "als", "item-knn", "top-frequency", "bought-together", "popular")
RANKERS = ("all", "new")
BATCH = 512
RECENT_DAYS = 30.0
SMALL_BATCH = 8
"""Up to this many histories, top-k runs in numpy (see :func:`_top_k`)."""
MIN_EARLY_STOPPING_USERS = 10


@dataclass(frozen=True, slots=True)
class _Context:
    """What the features need about the training data (item side), learned at fit."""

    popularity: FloatArray
    recent_popularity: FloatArray
    first_seen_days: FloatArray  # days before the end of training when first seen
    price: FloatArray
    category: IntArray  # -1: unknown
    n_categories: int
    item_cycle_days: FloatArray  # median re-buy gap of the item across users (NaN: none)
    end: int  # last training timestamp

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "popularity": self.popularity,
            "recent_popularity": self.recent_popularity,
            "first_seen_days": self.first_seen_days,
            "price": self.price,
            "category": self.category,
            "item_cycle_days": self.item_cycle_days,
        }


class LTRReranker(ScoringRecommender):
    """LambdaMART over the union of several recommenders' candidates.

    Parameters
    ----------
    sources:
        Registered recommender names proposing candidates (each must score every item,
        as the registry's models do); None: :data:`DEFAULT_SOURCES`.
    source_params:
        Hyper-parameters per source name (e.g. the output of ``shopsense tune``).
    candidates_per_source:
        How many top items each source proposes per user.
    holdout_days, holdout_windows:
        Without a given validation holdout: the last ``holdout_days`` of the training
        interactions are the ranker's labels (a quarter of the time span when the data
        covers less than twice that), and so are the ``holdout_windows - 1``
        windows of the same length before it (each with sources fitted on what came
        before it; windows with nothing before them are skipped). More windows, more
        users to learn from, at the cost of fitting the sources once per window.
    n_estimators, learning_rate, num_leaves, min_child_samples:
        LightGBM's. The number of trees actually kept is chosen by early stopping on a
        fifth of the labelled users (NDCG@20).
    objective:
        ``"lambdarank"`` (LambdaMART, optimising NDCG) or ``"binary"`` (pointwise
        logistic loss, sometimes steadier with few labelled users).
    num_threads:
        LightGBM threads (0: LightGBM's default).
    random_state:
        Seed of the user split, LightGBM and the sources that take one.
    """

    name: ClassVar[str] = "ltr"
    learned: ClassVar[tuple[str, ...]] = ("rankers_",)
    rankers_: dict[str, lightgbm.Booster] | None = None
    sources_: dict[str, Recommender]
    context_: _Context
    feature_names_: list[str]

    def __init__(
        self,
        *,
        sources: list[str] | None = None,
        source_params: dict[str, dict[str, Any]] | None = None,
        candidates_per_source: int = 50,
        holdout_days: float = 90.0,
        holdout_windows: int = 1,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        objective: str = "lambdarank",
        num_threads: int = 0,
        random_state: int = 0,
    ) -> None:
        self.sources = sources
        self.source_params = source_params
        self.candidates_per_source = candidates_per_source
        self.holdout_days = holdout_days
        self.holdout_windows = holdout_windows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.objective = objective
        self.num_threads = num_threads
        self.random_state = random_state

    # -- set-up -------------------------------------------------------------------------

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources in use (``sources`` or the defaults)."""
        return DEFAULT_SOURCES if self.sources is None else tuple(self.sources)

    def _check_params(self) -> None:
        from shopsense.models.recommend.registry import RECOMMENDERS  # noqa: PLC0415

        if self.sources is not None and not self.sources:
            raise ConfigurationError("ltr needs at least one source")
        unknown = sorted(set(self.source_names) - set(RECOMMENDERS))
        if unknown or self.name in self.source_names:
            raise ConfigurationError(
                f"ltr sources must be registered recommenders other than ltr; bad: "
                f"{', '.join(unknown or [self.name])}; known: {', '.join(sorted(RECOMMENDERS))}"
            )
        extra = sorted(set(self.source_params or {}) - set(self.source_names))
        if extra:
            raise ConfigurationError(f"source_params for models not in sources: {extra}")
        if min(self.candidates_per_source, self.n_estimators, self.holdout_windows) < 1:
            raise ConfigurationError(
                "candidates_per_source, n_estimators and holdout_windows must be >= 1"
            )
        if self.objective not in {"lambdarank", "binary"}:
            raise ConfigurationError(
                f"objective must be 'lambdarank' or 'binary', got {self.objective!r}"
            )
        if self.holdout_days <= 0:
            raise ConfigurationError(f"holdout_days must be positive, got {self.holdout_days}")

    def _new_sources(self) -> dict[str, Recommender]:
        from shopsense.models.recommend.registry import make_recommender  # noqa: PLC0415

        params = self.source_params or {}
        return {name: make_recommender(name, **params.get(name, {})) for name in self.source_names}

    # -- fitting ------------------------------------------------------------------------

    def fit(self, interactions: Interactions, *, validation: Holdout | None = None) -> Self:
        """Fit the sources and the rankers; see the module docstring."""
        self._check_params()
        stages: list[tuple[dict[str, Recommender], _Context, Holdout]] = []
        if validation is not None:
            check_histories(validation.histories, interactions.n_items)
            sources = self._fit_sources(interactions, validation)
            stages.append((sources, _context(interactions), validation))
        else:
            end = int(interactions.timestamps.max(initial=0))
            days = self._holdout_days(interactions)
            for window in range(1, self.holdout_windows + 1):
                cutoff = int(end - window * days * SECONDS_PER_DAY)
                stop = int(cutoff + days * SECONDS_PER_DAY)
                known = interactions.subset(interactions.timestamps <= stop)
                before = known.subset(known.timestamps < cutoff)
                labelled = _labels_after(known, cutoff)
                if len(before) == 0 or not labelled.histories:
                    break
                stages.append((self._fit_sources(before, None), _context(before), labelled))
            if not stages:
                raise ValidationFailedError(
                    f"ltr needs interactions both before and within the last "
                    f"{self.holdout_days:g} days to learn from; lower holdout_days"
                )
        self.rankers_ = {}
        for ranker in RANKERS:
            started = time.perf_counter()
            parts = [
                self._training_rows(sources, context, labelled, exclude_seen=ranker == "new")
                for sources, context, labelled in stages
            ]
            features = np.concatenate([part[0] for part in parts])
            labels = np.concatenate([part[1] for part in parts])
            groups = np.concatenate([part[2] for part in parts])
            logger.debug(
                "ltr: %s ranker: %d candidate rows for %d users in %d window(s) (%.1fs)",
                ranker,
                len(labels),
                len(groups),
                len(stages),
                time.perf_counter() - started,
            )
            self.rankers_[ranker] = self._train_ranker(features, labels, groups)
        if validation is None:  # refit the sources on everything, for serving
            self.sources_ = self._fit_sources(interactions, None)
            self.context_ = _context(interactions)
        else:
            self.sources_, self.context_ = stages[0][0], stages[0][1]
        return self

    def _holdout_days(self, interactions: Interactions) -> float:
        """``holdout_days``, or a quarter of the data's time span when that is shorter
        than twice ``holdout_days`` (a young shop)."""
        if not len(interactions):
            return self.holdout_days
        span = float(interactions.timestamps.max() - interactions.timestamps.min())
        span_days = span / SECONDS_PER_DAY
        if span_days >= 2 * self.holdout_days:
            return self.holdout_days
        logger.info(
            "ltr: %.0f days of data; holding out the last %.1f days instead of %g",
            span_days,
            span_days / 4,
            self.holdout_days,
        )
        return max(span_days / 4, 1.0 / 24)

    def _fit_sources(
        self, interactions: Interactions, validation: Holdout | None
    ) -> dict[str, Recommender]:
        sources = self._new_sources()
        for name, source in sources.items():
            if not isinstance(source, ScoringRecommender):
                raise ConfigurationError(f"source {name!r} cannot score every item")
            started = time.perf_counter()
            if validation is not None and accepts_holdout(source):
                source.fit(interactions, validation=validation)  # type: ignore[call-arg]
            else:
                source.fit(interactions)
            logger.debug("ltr: source %s fitted (%.1fs)", name, time.perf_counter() - started)
        return sources

    def _training_rows(
        self,
        sources: dict[str, Recommender],
        context: _Context,
        labelled: Holdout,
        *,
        exclude_seen: bool,
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """Features, 0/1 labels and per-user group sizes of the labelled users'
        candidates (with ``exclude_seen``: new items only, in candidates and labels)."""
        blocks: list[FloatArray] = []
        labels: list[FloatArray] = []
        groups: list[IntArray] = []
        n_items = len(context.popularity)
        for start in range(0, len(labelled.histories), BATCH):
            stop = min(start + BATCH, len(labelled.histories))
            histories = labelled.histories[start:stop]
            times = None if labelled.times is None else labelled.times[start:stop]
            rows, items, features = self._candidates(
                sources, context, histories, times, labelled.now, exclude_seen=exclude_seen
            )
            truth = labelled.truth[start:stop]
            target = np.zeros((len(histories), n_items), dtype=bool)
            owners = np.repeat(np.arange(len(truth)), [len(t) for t in truth])
            target[owners, np.concatenate(truth)] = True
            blocks.append(features)
            labels.append(target[rows, items].astype(np.float64))
            groups.append(np.bincount(rows, minlength=len(histories)))
        return np.concatenate(blocks), np.concatenate(labels), np.concatenate(groups)

    def _train_ranker(
        self,
        features: FloatArray,
        labels: FloatArray,
        groups: IntArray,
    ) -> lightgbm.Booster:
        import lightgbm  # noqa: PLC0415  # only when needed: importing stays light

        owner = np.repeat(np.arange(len(groups)), groups)
        positives = np.bincount(owner, weights=labels, minlength=len(groups))
        useful = positives[owner] > 0  # a user without a positive teaches nothing
        features, labels, owner = features[useful], labels[useful], owner[useful]
        users = np.unique(owner)
        if len(users) < 2:
            raise ValidationFailedError(
                "ltr found fewer than two users with a held-out item among the candidates; "
                "more data or more candidates_per_source are needed"
            )
        rng = np.random.default_rng(self.random_state)
        early = rng.random(len(users)) < 0.2
        if len(users) < MIN_EARLY_STOPPING_USERS or early.all():
            early[:] = False  # too few users to set some aside: no early stopping
        early_users = set(users[early].tolist())
        is_early = np.fromiter((u in early_users for u in owner.tolist()), bool, len(owner))
        params = {
            "objective": self.objective,
            "metric": "ndcg",
            "eval_at": [20],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambdarank_truncation_level": 40,
            "num_threads": self.num_threads,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

        def dataset(mask: npt.NDArray[np.bool_]) -> lightgbm.Dataset:
            group_sizes = np.unique(owner[mask], return_counts=True)[1]
            return lightgbm.Dataset(
                features[mask],
                labels[mask],
                group=group_sizes,
                feature_name=self.feature_names_,
                free_raw_data=False,
            )

        train = dataset(~is_early)
        callbacks: list[Callable[..., Any]] = [lightgbm.early_stopping(50, verbose=False)]
        if is_early.any():
            booster = lightgbm.train(
                params,
                train,
                num_boost_round=self.n_estimators,
                valid_sets=[dataset(is_early)],
                callbacks=callbacks,
            )
        else:
            booster = lightgbm.train(params, train, num_boost_round=self.n_estimators)
        logger.debug(
            "ltr: ranker on %d rows of %d users, %d trees",
            int((~is_early).sum()),
            len(users),
            booster.best_iteration or booster.current_iteration(),
        )
        return booster

    # -- candidates and features --------------------------------------------------------

    def _candidates(
        self,
        sources: dict[str, Recommender],
        context: _Context,
        histories: list[IntArray],
        times: list[IntArray] | None,
        now: int | None,
        *,
        exclude_seen: bool,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Rows (index into ``histories``), item codes and features of the candidates."""
        n_users = len(histories)
        n_items = len(context.popularity)
        k = min(self.candidates_per_source, n_items)
        blocked = np.zeros((n_users, n_items), dtype=bool)
        if allowed is not None:
            blocked[:, ~allowed] = True
        if exclude_seen:
            lengths = [len(h) for h in histories]
            if sum(lengths):
                blocked[np.repeat(np.arange(n_users), lengths), np.concatenate(histories)] = True
        scores: dict[str, FloatArray] = {}
        proposed = np.zeros((n_users, n_items), dtype=bool)
        ranks: dict[str, npt.NDArray[np.float32]] = {}
        for name, source in sources.items():
            assert isinstance(source, ScoringRecommender)
            dense = np.array(source.score_in_context(histories, times, now), dtype=np.float64)
            dense[blocked] = -np.inf
            top = _top_k(dense, k)
            rank = np.full((n_users, n_items), np.nan, dtype=np.float32)
            np.put_along_axis(rank, top, np.arange(1, k + 1, dtype=np.float32)[None, :], axis=1)
            valid = np.isfinite(np.take_along_axis(dense, top, axis=1))
            rows_valid = np.repeat(np.arange(n_users), k)[valid.ravel()]
            proposed[rows_valid, top.ravel()[valid.ravel()]] = True
            scores[name], ranks[name] = dense, rank
        rows, items = np.nonzero(proposed)
        features = self._features(
            context, histories, times, now, rows=rows, items=items, scores=scores, ranks=ranks
        )
        return rows.astype(np.int64), items.astype(np.int64), features

    def _features(
        self,
        context: _Context,
        histories: list[IntArray],
        times: list[IntArray] | None,
        now: int | None,
        *,
        rows: IntArray,
        items: IntArray,
        scores: dict[str, FloatArray],
        ranks: dict[str, npt.NDArray[np.float32]],
    ) -> FloatArray:
        n_users, n_items = len(histories), len(context.popularity)
        columns: dict[str, FloatArray] = {}
        for name in self.source_names:
            value = scores[name][rows, items]
            columns[f"{name}_score"] = np.where(np.isfinite(value), value, np.nan)
            rank = ranks[name][rows, items].astype(np.float64)
            columns[f"{name}_rank"] = np.where(
                np.isnan(rank), float(self.candidates_per_source + 1), rank
            )
        total = max(float(context.popularity.sum()), 1.0)
        recent_total = max(float(context.recent_popularity.sum()), 1.0)
        share = context.popularity / total
        recent_share = context.recent_popularity / recent_total
        columns["item_popularity"] = np.log1p(context.popularity[items])
        columns["item_recent_popularity"] = np.log1p(context.recent_popularity[items])
        columns["item_trend"] = np.log((recent_share[items] + 1e-6) / (share[items] + 1e-6))
        columns["item_age_days"] = context.first_seen_days[items]
        columns["item_price"] = context.price[items]

        lengths = np.array([len(h) for h in histories], dtype=np.int64)
        stamps = _history_times(histories, times, now)
        moment = float(now) if now is not None else float(context.end)
        flat_users = np.repeat(np.arange(n_users), lengths)
        flat_items = np.concatenate(histories) if lengths.sum() else np.zeros(0, np.int64)
        flat_times = np.concatenate(stamps) if lengths.sum() else np.zeros(0, np.int64)
        pair_count, pair_first, pair_last, distinct = _pair_stats(
            flat_users, flat_items, flat_times, rows, items, n_users=n_users, n_items=n_items
        )
        user_last = np.array(
            [float(s.max()) if len(s) else np.nan for s in stamps], dtype=np.float64
        )
        columns["user_history_length"] = lengths[rows].astype(np.float64)
        columns["user_distinct_items"] = distinct[rows].astype(np.float64)
        columns["user_days_since_last"] = (moment - user_last[rows]) / SECONDS_PER_DAY

        had = pair_count > 0
        since = np.where(had, (moment - pair_last) / SECONDS_PER_DAY, np.nan)
        own_gap = np.where(
            pair_count > 1,
            (pair_last - pair_first) / SECONDS_PER_DAY / np.maximum(pair_count - 1, 1),
            np.nan,
        )
        cycle = np.where(np.isfinite(own_gap), own_gap, context.item_cycle_days[items])
        columns["user_item_count"] = pair_count
        columns["user_item_share"] = pair_count / np.maximum(lengths[rows], 1)
        columns["user_item_days_since"] = since
        columns["user_item_due"] = np.where(had, since / np.maximum(cycle, 1.0), np.nan)

        prices = context.price
        known_price = np.isfinite(prices[flat_items]) if len(flat_items) else np.zeros(0, bool)
        price_sum = np.bincount(
            flat_users[known_price], weights=prices[flat_items][known_price], minlength=n_users
        )
        price_n = np.bincount(flat_users[known_price], minlength=n_users)
        user_price = np.where(price_n > 0, price_sum / np.maximum(price_n, 1), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):  # a price of 0 is no band
            ratio = prices[items] / user_price[rows]
            columns["price_ratio"] = np.where(
                (ratio > 0) & np.isfinite(ratio), np.log(ratio), np.nan
            )

        if context.n_categories:
            category = context.category
            known = category[flat_items] >= 0 if len(flat_items) else np.zeros(0, bool)
            per_user = np.zeros((n_users, context.n_categories))
            np.add.at(per_user, (flat_users[known], category[flat_items][known]), 1.0)
            item_category = category[items]
            share_in = np.where(
                item_category >= 0,
                per_user[rows, np.maximum(item_category, 0)] / np.maximum(lengths[rows], 1),
                np.nan,
            )
        else:
            share_in = np.full(len(rows), np.nan)
        columns["category_share"] = share_in
        self.feature_names_ = list(columns)
        return np.column_stack([columns[name] for name in self.feature_names_])

    # -- serving ------------------------------------------------------------------------

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """Ranker scores for every item (items no source proposes: -inf), with each
        history treated as one step per item (no times)."""
        return self.score_in_context(histories, None, None)

    def score_in_context(
        self, histories: list[IntArray], times: list[IntArray] | None, now: int | None
    ) -> FloatArray:
        """Ranker scores of the candidates over all items (see :meth:`recommend`)."""
        return self._score(histories, times, now, exclude_seen=False, allowed=None)

    def _score(
        self,
        histories: list[IntArray],
        times: list[IntArray] | None,
        now: int | None,
        *,
        exclude_seen: bool,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> FloatArray:
        check_fitted(self, "rankers_")
        assert self.rankers_ is not None
        n_items = len(self.context_.popularity)
        check_histories(histories, n_items)
        scores = np.full((len(histories), n_items), -np.inf)
        if not histories:
            return scores
        rows, items, features = self._candidates(
            self.sources_,
            self.context_,
            histories,
            times,
            now,
            exclude_seen=exclude_seen,
            allowed=allowed,
        )
        ranker = self.rankers_["new" if exclude_seen else "all"]
        predicted = ranker.predict(features, num_iteration=ranker.best_iteration or None)
        scores[rows, items] = np.asarray(predicted, dtype=np.float64)
        return scores

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
        """Top-``n`` by the ranker among the sources' candidates (the ``new`` ranker when
        ``exclude_seen``); lists are filled up by popularity when the candidates run out."""
        check_fitted(self, "rankers_")
        check_times(histories, times)
        n_items = len(self.context_.popularity)
        allowed = None
        if candidates is not None:
            allowed = np.zeros(n_items, dtype=bool)
            allowed[np.asarray(candidates, dtype=np.int64)] = True
        scaled = self.context_.popularity / max(float(self.context_.popularity.max()), 1.0)

        def score(start: int, stop: int) -> FloatArray:
            window = None if times is None else times[start:stop]
            scores = self._score(
                histories[start:stop], window, now, exclude_seen=exclude_seen, allowed=allowed
            )
            # Items no source proposed follow, by popularity, so lists are always full.
            floor = np.where(np.isfinite(scores), scores, np.nan)
            low = np.nanmin(floor, axis=1, initial=0.0)
            filled: FloatArray = np.where(
                np.isfinite(scores), scores, (low - 2.0)[:, None] + scaled[None, :]
            )
            return filled

        return rank_in_batches(
            score,
            histories,
            n,
            exclude_seen=exclude_seen,
            candidates=candidates,
            batch_size=BATCH,
        )

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The first source's similar items (the ranker scores users, not item pairs)."""
        check_fitted(self, "rankers_")
        return self.sources_[self.source_names[0]].similar_items(item_codes, n)

    def feature_importance(self, ranker: str = "all") -> dict[str, float]:
        """Total gain of each feature in ``ranker`` (``"all"`` or ``"new"``)."""
        check_fitted(self, "rankers_")
        assert self.rankers_ is not None
        booster = self.rankers_[ranker]
        gains = booster.feature_importance(importance_type="gain")
        return dict(zip(self.feature_names_, (float(g) for g in gains), strict=True))

    # -- artifacts ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Each source in ``sources/<name>/``, the rankers as LightGBM text models, the
        item context as npz, and ``manifest.json``."""
        check_fitted(self, "rankers_")
        assert self.rankers_ is not None
        directory.mkdir(parents=True, exist_ok=True)
        for name, source in self.sources_.items():
            source.save(directory / "sources" / name)
        for ranker, booster in self.rankers_.items():
            booster.save_model(str(directory / f"ranker-{ranker}.txt"))
        np.savez(directory / "context.npz", allow_pickle=False, **self.context_.arrays())
        write_manifest(
            directory,
            self.name,
            model_params(self),
            features=self.feature_names_,
            n_categories=self.context_.n_categories,
            end=self.context_.end,
            importance=self.feature_importance("all"),
        )

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Read a model that :meth:`save` wrote."""
        import lightgbm  # noqa: PLC0415  # only when needed: importing stays light

        from shopsense.models.recommend.registry import RECOMMENDERS  # noqa: PLC0415

        manifest = read_manifest(directory, cls.name)
        params = manifest["params"]
        model = cls(**params)
        model.sources_ = {
            name: RECOMMENDERS[name].load(directory / "sources" / name)
            for name in model.source_names
        }
        model.rankers_ = {
            ranker: lightgbm.Booster(model_file=str(directory / f"ranker-{ranker}.txt"))
            for ranker in RANKERS
        }
        with np.load(directory / "context.npz", allow_pickle=False) as arrays:
            model.context_ = _Context(
                popularity=arrays["popularity"],
                recent_popularity=arrays["recent_popularity"],
                first_seen_days=arrays["first_seen_days"],
                price=arrays["price"],
                category=arrays["category"],
                n_categories=int(manifest["n_categories"]),
                item_cycle_days=arrays["item_cycle_days"],
                end=int(manifest["end"]),
            )
        model.feature_names_ = list(manifest["features"])
        return model


# -- helpers -------------------------------------------------------------------------------


def _labels_after(interactions: Interactions, cutoff: int) -> Holdout:
    """Users active before and after ``cutoff``: their history before it and the
    distinct items they had after it."""
    before = interactions.timestamps < cutoff
    early = interactions.subset(before)
    late = interactions.subset(~before)
    sequences, stamps = early.sequences(), early.time_sequences()
    later = late.sequences()
    users = [u for u in range(interactions.n_users) if len(sequences[u]) and len(later[u])]
    return Holdout(
        histories=[sequences[u] for u in users],
        times=[stamps[u] for u in users],
        truth=[np.unique(later[u]) for u in users],
        now=cutoff,
    )


def _top_k(scores: FloatArray, k: int) -> IntArray:
    """Column indices of each row's ``k`` best scores, best first. torch's ``topk``
    (already a dependency) is several times faster than ``np.argpartition`` over rows
    of thousands of items, and this runs once per source per batch; a few rows (a
    served request) go faster through numpy, without torch's thread pool."""
    if scores.shape[0] <= SMALL_BATCH:
        k = min(k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        return np.asarray(np.take_along_axis(part, order, axis=1), dtype=np.int64)
    import torch  # noqa: PLC0415  # only when needed: importing stays light

    top = torch.topk(torch.from_numpy(scores), k, dim=1, largest=True, sorted=True).indices
    return np.asarray(top.numpy(), dtype=np.int64)


def _pair_stats(
    users: IntArray,
    items: IntArray,
    stamps: IntArray,
    rows: IntArray,
    candidates: IntArray,
    *,
    n_users: int,
    n_items: int,
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """For each (``rows``, ``candidates``) pair: how often the user had the item, and
    when first and last (NaN when never), from the flat history arrays; plus each
    user's number of distinct items. Sorting and searching keeps it linear in the
    history size instead of a dense ``users x items`` matrix."""
    keys = users * n_items + items
    order = np.lexsort((stamps, keys))
    keys, times = keys[order], stamps[order].astype(np.float64)
    unique, starts, counts = np.unique(keys, return_index=True, return_counts=True)
    firsts = times[starts] if len(unique) else np.zeros(0)
    lasts = times[starts + counts - 1] if len(unique) else np.zeros(0)
    wanted = rows * n_items + candidates
    at = np.minimum(np.searchsorted(unique, wanted), max(len(unique) - 1, 0))
    found = (unique[at] == wanted) if len(unique) else np.zeros(len(wanted), dtype=bool)
    count = np.where(found, counts[at] if len(unique) else 0, 0).astype(np.float64)
    first = np.where(found, firsts[at] if len(unique) else 0.0, np.nan)
    last = np.where(found, lasts[at] if len(unique) else 0.0, np.nan)
    distinct = np.bincount(unique // n_items, minlength=n_users).astype(np.int64)
    return count, first, last, distinct


def _history_times(
    histories: list[IntArray], times: list[IntArray] | None, now: int | None
) -> list[IntArray]:
    """The histories' timestamps; without them, one day per item ending at ``now``."""
    if times is not None:
        return [np.asarray(t, dtype=np.int64) for t in times]
    end = 0 if now is None else int(now)
    day = int(SECONDS_PER_DAY)
    return [end - day * np.arange(len(h), 0, -1, dtype=np.int64) for h in histories]


def _context(interactions: Interactions) -> _Context:
    """Item-side facts from the training interactions and the catalog."""
    n_items = interactions.n_items
    end = int(interactions.timestamps.max(initial=0))
    popularity = np.bincount(interactions.item_codes, minlength=n_items).astype(np.float64)
    recent = interactions.timestamps >= end - RECENT_DAYS * SECONDS_PER_DAY
    recent_popularity = np.bincount(interactions.item_codes[recent], minlength=n_items).astype(
        np.float64
    )
    first = np.full(n_items, np.nan)
    if len(interactions):
        earliest = np.full(n_items, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, interactions.item_codes, interactions.timestamps)
        seen = earliest < np.iinfo(np.int64).max
        first[seen] = (end - earliest[seen]) / SECONDS_PER_DAY
    catalog = interactions.catalog
    price = np.full(n_items, np.nan) if catalog is None else catalog.price.astype(np.float64)
    if catalog is not None and np.any(catalog.category != ""):
        labels, category = np.unique(catalog.category, return_inverse=True)
        category = category.astype(np.int64)
        blank = labels == ""
        if blank.any():
            category[category == int(np.flatnonzero(blank)[0])] = -1
        n_categories = len(labels)
    else:
        category, n_categories = np.full(n_items, -1, dtype=np.int64), 0
    return _Context(
        popularity=popularity,
        recent_popularity=recent_popularity,
        first_seen_days=first,
        price=price,
        category=category,
        n_categories=n_categories,
        item_cycle_days=_item_cycles(interactions),
        end=end,
    )


def _item_cycles(interactions: Interactions) -> FloatArray:
    """Median gap in days between a user's consecutive (distinct-time) interactions with
    the same item, per item (NaN where no user repeated it)."""
    n_items = interactions.n_items
    cycles = np.full(n_items, np.nan)
    if len(interactions) < 2:
        return cycles
    order = np.lexsort((interactions.timestamps, interactions.item_codes, interactions.user_codes))
    users = interactions.user_codes[order]
    items = interactions.item_codes[order]
    stamps = interactions.timestamps[order]
    same = (users[1:] == users[:-1]) & (items[1:] == items[:-1]) & (stamps[1:] > stamps[:-1])
    gaps = (stamps[1:] - stamps[:-1])[same] / SECONDS_PER_DAY
    gap_items = items[1:][same]
    if not len(gaps):
        return cycles
    by_item = np.argsort(gap_items, kind="stable")
    gap_items, gaps = gap_items[by_item], gaps[by_item]
    bounds = np.flatnonzero(np.diff(gap_items)) + 1
    for chunk_items, chunk in zip(np.split(gap_items, bounds), np.split(gaps, bounds), strict=True):
        cycles[chunk_items[0]] = float(np.median(chunk))
    return cycles
