"""Recommendations as the API serves them: scenarios, business rules, cold start and a
human reason for every item.

A request runs in four steps:

1. **Context**: the user's live history and purchases (:class:`LiveHistories`), or the
   items an anonymous session sent; the items allowed (active, in stock, not excluded,
   in the requested category, not bought unless the scenario is buy-again).
2. **Pool**: the scenario's model ranks a pool of allowed candidates (a few times ``n``)
   from the *current* history, so a new event changes the next answer at once.
3. **Rules**: boost or bury by attribute, at most K per category or brand, pinned
   items first; a short list is filled with what is popular now.
4. **Reasons**: each item says why it is there ("because you viewed X", "often bought
   with X", "you buy this about every 30 days", "popular in Y this week").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import NotFoundError, ValidationFailedError
from shopsense.core.ids import new_id
from shopsense.core.settings import BusinessRules, ServeSettings
from shopsense.features.customers import rebuy_cycle_days
from shopsense.models.recommend._common import ScoringRecommender
from shopsense.serve.catalog import ServingCatalog
from shopsense.serve.content import ContentIndex
from shopsense.serve.live import SECONDS_PER_DAY, HistoryEvent, LiveHistories
from shopsense.serve.models import LoadedModel, ModelSet

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

VERBS = {
    "view": "viewed",
    "click": "clicked",
    "add_to_cart": "added to your cart",
    "purchase": "bought",
}
NEW_ITEM_SIMILARITY = 0.3
"""Least content similarity for a new item to join a personal list (TF-IDF cosine)."""
MIN_EXPLAINING = 0.05
"""Least item-item similarity for "because you <did> X" (cosine): a weaker link would be
a reason no shopper believes."""
HISTORY_FOR_REASONS = 30
"""The newest history events searched for "because you ..." (bounded cost per request)."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an item is recommended: a stable ``code`` for programs, ``text`` for people,
    and the item it refers to (when it refers to one)."""

    code: str
    text: str
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recommended:
    item: int  # global code
    score: float
    reason: Reason


@dataclass(frozen=True, slots=True)
class RecommendationList:
    """One served list; ``rec_id`` is what later events cite to attribute clicks and
    purchases to it."""

    rec_id: str
    scenario: str
    user_id: str | None
    model: str
    model_version: int | None
    items: list[Recommended]
    cold_start: bool
    experiment_id: str | None = None
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class RecommendationRequest:
    """What a caller asks for; ``items`` are the cart (``cart``) or the session's items
    (``session``); ``session_events`` are (item_id, type) pairs of an anonymous session."""

    scenario: str
    n: int = 10
    user_id: str | None = None
    item_id: str | None = None
    items: tuple[str, ...] = ()
    session_events: tuple[tuple[str, str], ...] = ()
    category: str | None = None
    exclude: tuple[str, ...] = ()
    rules: BusinessRules = field(default_factory=BusinessRules)


@dataclass(slots=True)
class _Pool:
    """Candidates in rank order with scores and reasons (mutable while building). A
    reason may be None and filled by ``explain(items)`` once the list is chosen, so
    that only the items shown are explained."""

    items: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    reasons: list[Reason | None] = field(default_factory=list)
    explain: Callable[[list[int]], list[Reason]] | None = None

    def add(self, item: int, score: float, reason: Reason | None) -> None:
        self.items.append(item)
        self.scores.append(score)
        self.reasons.append(reason)

    def __len__(self) -> int:
        return len(self.items)


def merge_rules(base: BusinessRules, **changes: Any) -> BusinessRules:
    """``base`` with the given fields replaced (None leaves a field as it is); boosts
    and pins add to the configured ones."""
    update: dict[str, Any] = {key: value for key, value in changes.items() if value is not None}
    if "boost" in update:
        update["boost"] = (*base.boost, *update["boost"])
    if "pinned" in update:
        pinned = dict(base.pinned)
        for scenario, items in update["pinned"].items():
            pinned[scenario] = (*items, *pinned.get(scenario, ()))
        update["pinned"] = pinned
    return base.model_copy(update=update)


class RecommendationEngine:
    """Scores requests against the current :class:`ModelSet` and live state."""

    def __init__(
        self,
        settings: ServeSettings,
        catalog: ServingCatalog,
        histories: LiveHistories,
        content: ContentIndex,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.histories = histories
        self.content = content
        self.models = ModelSet()

    def swap(self, models: ModelSet) -> None:
        """Put ``models`` (with the running experiments) in service; requests already
        running finish on the old set."""
        self.models = models

    # -- entry points --------------------------------------------------------------------

    def recommend(self, request: RecommendationRequest) -> RecommendationList:
        """A list for ``request.scenario`` (home, item, cart, buy-again, session)."""
        models = self.models
        handler = {
            "home": self._home,
            "session": self._home,
            "item": self._item_page,
            "cart": self._cart,
            "buy-again": self._buy_again,
        }.get(request.scenario)
        if handler is None:
            raise ValidationFailedError(
                f"unknown scenario {request.scenario!r}; use home, item, cart, buy-again "
                "(or POST /v1/sessions/recommendations for a session)",
                details={"field": "scenario"},
            )
        live = models.experiments.get(request.scenario)
        variant = None
        if live is not None and request.user_id is not None:
            variant = live.experiment.assign(request.user_id).name
            if (model := live.models.get(variant)) is not None:
                models = models.serving(request.scenario, model)
        history, purchases = self._context(request)
        allowed = self._allowed(request, purchases)
        pool, loaded = handler(models, request, history, purchases, allowed)
        cold_start = loaded is None
        items = self._finish(pool, request, allowed, history)
        return RecommendationList(
            rec_id=new_id(),
            scenario=request.scenario,
            user_id=request.user_id,
            model=loaded.name if loaded else "trending",
            model_version=loaded.version if loaded else None,
            items=items,
            cold_start=cold_start,
            experiment_id=live.experiment.experiment_id if variant is not None and live else None,
            variant=variant,
        )

    def similar(
        self, item_id: str, n: int, *, rules: BusinessRules | None = None
    ) -> list[Recommended]:
        """Items like ``item_id``: the ``similar`` model, or content for a new item."""
        anchor = self._anchor(item_id)
        request = RecommendationRequest(scenario="similar", n=n, rules=rules or self.settings.rules)
        allowed = self._allowed(request, {})
        if anchor < len(allowed):
            allowed[anchor] = False
        pool = self._similar_pool(self.models, anchor, allowed, self._pool_size(request))
        return self._finish(pool, request, allowed, [])

    def bought_together(self, item_id: str, n: int) -> list[tuple[Recommended, float, float]]:
        """Items bought with ``item_id`` (association rules of the ``cart`` model), with
        each one's confidence and lift; empty when no basket holds the item."""
        anchor = self._anchor(item_id)
        loaded = self.models.get("cart")
        associations = getattr(loaded.model, "associations", None) if loaded else None
        if loaded is None or associations is None:
            return []
        code = int(loaded.model_codes([anchor])[0])
        if code < 0:
            return []
        rules = associations(code)
        allowed = self.catalog.available()
        name = self.catalog.display_name(anchor)
        found: list[tuple[Recommended, float, float]] = []
        for item, confidence, lift in zip(rules.items, rules.confidence, rules.lift, strict=True):
            gid = int(loaded.to_global[item])
            if gid == anchor or not allowed[gid]:
                continue
            reason = Reason(
                "bought_together",
                f"{confidence:.0%} of the orders with {name} also had it",
                item_id,
            )
            found.append((Recommended(gid, float(lift), reason), float(confidence), float(lift)))
            if len(found) == n:
                break
        return found

    # -- context -------------------------------------------------------------------------

    def _anchor(self, item_id: str) -> int:
        code = self.catalog.code(item_id)
        if code is None:
            raise NotFoundError(f"no item with item_id {item_id!r}")
        return code

    def _context(
        self, request: RecommendationRequest
    ) -> tuple[list[HistoryEvent], dict[int, list[int]]]:
        """The history to score from and the purchases (item -> times)."""
        if request.scenario == "session":
            now = self._now()
            events = request.session_events or tuple((item, "view") for item in request.items)
            # Ids the server never met are left out (a caller must not grow the catalog).
            known = [
                (code, kind)
                for code, kind in ((self.catalog.code(item), kind) for item, kind in events)
                if code is not None
            ]
            history = [
                HistoryEvent(item=code, ts=now - (len(known) - position), type=kind)
                for position, (code, kind) in enumerate(known)
            ]
            purchases: dict[int, list[int]] = {}
            for event in history:
                if event.type == "purchase":
                    purchases.setdefault(event.item, []).append(event.ts)
            return history, purchases
        if request.user_id is None:
            return [], {}
        return (
            self.histories.recent(request.user_id),
            self.histories.purchases(request.user_id),
        )

    def _now(self) -> int:
        latest = self.histories.trending.latest
        return latest if latest > 0 else int(np.datetime64("now", "s").astype(np.int64))

    def _allowed(
        self, request: RecommendationRequest, purchases: dict[int, list[int]]
    ) -> BoolArray:
        """``allowed[gid]`` for this request: available, not excluded, in the category,
        not bought (unless buy-again, or the rule is off)."""
        allowed = self.catalog.available().copy()
        for item_id in request.exclude:
            code = self.catalog.code(item_id)
            if code is not None and code < len(allowed):
                allowed[code] = False
        if request.rules.exclude_purchased and request.scenario != "buy-again" and purchases:
            bought = np.fromiter(purchases, dtype=np.int64, count=len(purchases))
            allowed[bought[bought < len(allowed)]] = False
        if request.category:
            allowed &= self.catalog.category_mask(request.category, len(allowed))
        return allowed

    def _pool_size(self, request: RecommendationRequest) -> int:
        rules = request.rules
        diverse = rules.max_per_category is not None or rules.max_per_brand is not None
        boosted = bool(rules.boost)
        return request.n * (8 if diverse or boosted else 3) + 20

    # -- scoring -------------------------------------------------------------------------

    def _rank(
        self,
        loaded: LoadedModel,
        history: Sequence[HistoryEvent],
        allowed: BoolArray,
        k: int,
        *,
        candidates: IntArray | None = None,
    ) -> tuple[IntArray, FloatArray]:
        """The model's top-``k`` allowed items (global codes) for one history."""
        history_codes = loaded.model_codes([event.item for event in history])
        known = history_codes >= 0
        stamps = np.array([event.ts for event in history], dtype=np.int64)[known]
        allowed_codes = np.zeros(loaded.n_items, dtype=bool)
        inside = loaded.to_global < len(allowed)
        allowed_codes[inside] = allowed[loaded.to_global[inside]]
        if candidates is not None:
            restricted = np.zeros(loaded.n_items, dtype=bool)
            codes = loaded.model_codes(candidates)
            restricted[codes[codes >= 0]] = True
            allowed_codes &= restricted
        n_allowed = int(np.count_nonzero(allowed_codes))
        if n_allowed == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        model = loaded.model
        if isinstance(model, ScoringRecommender) and _ranks_by_scores(model):
            # The model's own ranking, without its batch machinery: one history, one
            # dense row of scores, the disallowed items masked, one partial sort.
            row = np.array(
                model.score_in_context([history_codes[known]], [stamps], self._now())[0],
                dtype=np.float64,
            )
            row[~allowed_codes] = -np.inf
            top = min(k, n_allowed)
            best = np.argpartition(-row, top - 1)[:top] if top < len(row) else np.arange(len(row))
            best = best[np.lexsort((best, -row[best]))]
            best = best[np.isfinite(row[best])]
            return loaded.to_global[best], row[best]
        pool = np.flatnonzero(allowed_codes)
        ranked = loaded.model.recommend(
            [history_codes[known]],
            min(k, len(pool)),
            exclude_seen=False,
            candidates=pool,
            times=[stamps],
            now=self._now(),
        )
        keep = ranked.items[0] >= 0
        return loaded.to_global[ranked.items[0][keep]], ranked.scores[0][keep]

    def _home(
        self,
        models: ModelSet,
        request: RecommendationRequest,
        history: list[HistoryEvent],
        purchases: dict[int, list[int]],
        allowed: BoolArray,
    ) -> tuple[_Pool, LoadedModel | None]:
        loaded = models.get(request.scenario) or models.get("home")
        if (
            loaded is None
            or not history
            or not (loaded.model_codes([e.item for e in history]) >= 0).any()
        ):
            return self._popular_pool(models, request, allowed), None
        items, scores = self._rank(loaded, history, allowed, self._pool_size(request))
        pool = _Pool(
            explain=lambda chosen: self._personal_reasons(
                models, np.asarray(chosen, dtype=np.int64), history, purchases
            )
        )
        for item, score in zip(items.tolist(), scores.tolist(), strict=True):
            pool.add(item, score, None)
        self._add_new_items(pool, loaded, history, allowed, request.n)
        return pool, loaded

    def _item_page(
        self,
        models: ModelSet,
        request: RecommendationRequest,
        history: list[HistoryEvent],
        purchases: dict[int, list[int]],
        allowed: BoolArray,
    ) -> tuple[_Pool, LoadedModel | None]:
        if not request.item_id:
            raise ValidationFailedError(
                "scenario 'item' needs item_id (the item page's item)", details={"field": "item_id"}
            )
        anchor = self._anchor(request.item_id)
        if anchor < len(allowed):
            allowed[anchor] = False
        pool = self._similar_pool(models, anchor, allowed, self._pool_size(request) * 2)
        personal = models.get("item") or models.get("home")
        if personal is None or not history or len(pool) == 0:
            return pool, models.get("similar")
        # Of the items like this one, the ones this shopper is likeliest to want first.
        items, scores = self._rank(
            personal,
            history,
            allowed,
            len(pool),
            candidates=np.asarray(pool.items, dtype=np.int64),
        )
        reason_of = {
            item: reason or Reason("similar", "similar to what you looked at")
            for item, reason in zip(pool.items, pool.reasons, strict=True)
        }
        ranked = _Pool()
        for item, score in zip(items.tolist(), scores.tolist(), strict=True):
            ranked.add(item, score, reason_of[item])
        placed = set(ranked.items)
        for item, reason in reason_of.items():  # the model may not know every candidate
            if item not in placed:
                ranked.add(item, float("-inf"), reason)
        return ranked, personal

    def _similar_pool(self, models: ModelSet, anchor: int, allowed: BoolArray, k: int) -> _Pool:
        pool = _Pool()
        name = self.catalog.display_name(anchor)
        anchor_id = self.catalog.item_id(anchor)
        loaded = models.get("similar")
        code = int(loaded.model_codes([anchor])[0]) if loaded else -1
        if loaded is not None and code >= 0:
            similar = loaded.model.similar_items(np.array([code]), min(k * 2, loaded.n_items))
            for item, score in zip(similar.items[0], similar.scores[0], strict=True):
                if item < 0:
                    continue
                gid = int(loaded.to_global[item])
                if gid < len(allowed) and allowed[gid]:
                    pool.add(gid, float(score), Reason("similar", f"similar to {name}", anchor_id))
                    if len(pool) == k:
                        break
            return pool
        # A new item no model knows: its words place it.
        for gid in self.content.nearest(anchor, k, allowed=allowed):
            pool.add(gid, 0.0, Reason("similar", f"similar to {name}", anchor_id))
        return pool

    def _cart(
        self,
        models: ModelSet,
        request: RecommendationRequest,
        history: list[HistoryEvent],
        purchases: dict[int, list[int]],
        allowed: BoolArray,
    ) -> tuple[_Pool, LoadedModel | None]:
        if request.items:
            cart = [
                code for code in (self.catalog.code(i) for i in request.items) if code is not None
            ]
        elif request.user_id is not None:
            cart = self.histories.cart(request.user_id)
        else:
            cart = []
        cart = [code for code in cart if code < len(allowed)]
        allowed[np.asarray(cart, dtype=np.int64)] = False
        if not cart:
            return self._home(models, request, history, purchases, allowed)
        k = self._pool_size(request)
        pool = _Pool()
        # First what baskets say (association rules), then what the same shoppers
        # bought (the item-item model): small shops have few multi-item baskets.
        served_by: LoadedModel | None = None
        for scenario, reason_code in (("cart", "bought_together"), ("similar", "also_bought")):
            loaded = models.get(scenario)
            if loaded is None or len(pool) >= k:
                continue
            matrix = _item_item_matrix(loaded)
            cart_codes = loaded.model_codes(cart)
            known = cart_codes >= 0
            if matrix is None or not known.any():
                continue
            # The cart's rows of the item -> item matrix, summed: what goes with the cart.
            related = csr_row_sum(matrix, cart_codes[known])
            remaining = allowed.copy()
            remaining[np.asarray(pool.items, dtype=np.int64)] = False
            inside = loaded.to_global < len(remaining)
            usable = np.zeros(loaded.n_items, dtype=bool)
            usable[inside] = remaining[loaded.to_global[inside]]
            related[~usable] = 0.0
            found = np.flatnonzero(related > 0)
            if len(found) == 0:
                continue
            found = found[np.lexsort((found, -related[found]))][: k - len(pool)]
            items = loaded.to_global[found]
            served_by = served_by or loaded
            strengths = csr_block(matrix, cart_codes[known], loaded.model_codes(items))
            anchors = np.asarray(cart, dtype=np.int64)[known]
            for column, item in enumerate(items.tolist()):
                anchor = int(anchors[int(strengths[:, column].argmax())])
                name = self.catalog.display_name(anchor)
                text = (
                    f"often bought with {name}"
                    if reason_code == "bought_together"
                    else f"shoppers who bought {name} also bought this"
                )
                # The two models score on different scales: the list's score is its
                # rank (basket rules first), comparable within the list only.
                pool.add(
                    item,
                    1.0 / (1 + len(pool)),
                    Reason(reason_code, text, self.catalog.item_id(anchor)),
                )
        if served_by is None:
            return self._home(models, request, history, purchases, allowed)
        return pool, served_by

    def _buy_again(
        self,
        models: ModelSet,
        request: RecommendationRequest,
        history: list[HistoryEvent],
        purchases: dict[int, list[int]],
        allowed: BoolArray,
    ) -> tuple[_Pool, LoadedModel | None]:
        loaded = models.get("buy-again")
        bought = [item for item in purchases if item < len(allowed) and allowed[item]]
        pool = _Pool()
        if not bought:
            return pool, loaded
        order: list[tuple[int, float]]
        if loaded is not None:
            events = sorted(
                (
                    HistoryEvent(item=item, ts=ts, type="purchase")
                    for item, stamps in purchases.items()
                    for ts in stamps
                ),
                key=lambda event: event.ts,
            )
            items, scores = self._rank(
                loaded, events, allowed, len(bought), candidates=np.asarray(bought, dtype=np.int64)
            )
            order = list(zip(items.tolist(), scores.tolist(), strict=True))
            ranked = {item for item, _ in order}
            order += [(item, 0.0) for item in bought if item not in ranked]
        else:  # no model: most bought first, then most recent
            order = sorted(
                ((item, float(len(purchases[item]))) for item in bought),
                key=lambda pair: (-pair[1], -max(purchases[pair[0]])),
            )
        for item, score in order:
            pool.add(item, score, self._rebuy_reason(purchases[item]))
        return pool, loaded

    def _rebuy_reason(self, stamps: list[int]) -> Reason:
        stamps = sorted(stamps)
        cycle = rebuy_cycle_days(stamps)
        if cycle is not None:
            return Reason("buy_again", f"you buy this about every {round(cycle)} days")
        days = max(0, round((self._now() - stamps[-1]) / SECONDS_PER_DAY))
        when = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
        times = f"{len(stamps)} times, last " if len(stamps) > 1 else ""
        return Reason("buy_again", f"you bought this {times}{when}")

    def _popular_pool(
        self, models: ModelSet, request: RecommendationRequest, allowed: BoolArray
    ) -> _Pool:
        """What is popular now (trending over the window), then all-time popular: the
        cold-start list, narrowed to the request's category when one is given."""
        k = self._pool_size(request)
        pool = _Pool()
        trending, weights = self.histories.trending.ranking()
        top = float(weights[0]) if len(weights) else 1.0
        days = self.settings.trending_days
        window = "this week" if days == 7 else f"in the last {days:g} days"
        inside = trending < len(allowed)
        usable = np.flatnonzero(inside)[allowed[trending[inside]]][:k]
        for item, weight in zip(trending[usable].tolist(), weights[usable].tolist(), strict=True):
            category = request.category or self._top_category(item)
            where = f" in {category}" if category else ""
            pool.add(item, 1.0 + weight / top, Reason("trending", f"popular{where} {window}"))
        if len(pool) == k:
            return pool
        fallback = models.get("fallback")
        if fallback is not None:
            seen = set(pool.items)
            items, scores = self._rank(fallback, [], allowed, k)
            for item, score in zip(items.tolist(), scores.tolist(), strict=True):
                if item not in seen:
                    pool.add(item, score / (1.0 + abs(score)), Reason("popular", "a bestseller"))
                if len(pool) == k:
                    break
        return pool

    def _top_category(self, item: int) -> str | None:
        categories = self.catalog.categories(item)
        return categories[0] if categories else None

    # -- reasons and new items -----------------------------------------------------------

    def _personal_reasons(
        self,
        models: ModelSet,
        items: IntArray,
        history: list[HistoryEvent],
        purchases: dict[int, list[int]],
    ) -> list[Reason]:
        """ "because you <verb> <item>" from the item-item similarity of the ``similar``
        model when it has one, else the re-buy cycle or a plain personal reason."""
        recent = history[-HISTORY_FOR_REASONS:]
        loaded = models.get("similar")
        matrix = getattr(loaded.model, "similarity_", None) if loaded else None
        strengths: FloatArray | None = None
        history_gids = np.array([event.item for event in recent], dtype=np.int64)
        if loaded is not None and matrix is not None and len(recent):
            history_codes = loaded.model_codes(history_gids)
            item_codes = loaded.model_codes(items)
            strengths = csr_block(matrix, history_codes, item_codes)
            # Later history items explain better at equal similarity.
            strengths *= np.linspace(0.8, 1.0, len(recent))[:, np.newaxis]
        reasons: list[Reason] = []
        seen = set(history_gids.tolist())
        for column, item in enumerate(items.tolist()):
            if item in purchases:
                reasons.append(self._rebuy_reason(purchases[item]))
                continue
            if strengths is not None and strengths[:, column].max(initial=0.0) >= MIN_EXPLAINING:
                event = recent[int(strengths[:, column].argmax())]
                if event.item != item:
                    reasons.append(
                        Reason(
                            "because_you",
                            f"because you {VERBS.get(event.type, 'looked at')} "
                            f"{self.catalog.display_name(event.item)}",
                            self.catalog.item_id(event.item),
                        )
                    )
                    continue
            if item in seen:
                reasons.append(Reason("seen", "you looked at this recently"))
                continue
            reasons.append(Reason("personal", "picked for you from what shoppers like you buy"))
        return reasons

    def _add_new_items(
        self,
        pool: _Pool,
        loaded: LoadedModel,
        history: list[HistoryEvent],
        allowed: BoolArray,
        n: int,
    ) -> None:
        """Put new catalog items (no model knows them yet) whose text is close to the
        user's recent items near the top: a new item is recommendable at once."""
        if not history:
            return
        new = self.catalog.new_items()
        new = new[new < len(allowed)]
        new = new[allowed[new] & (loaded.model_codes(new) < 0)]
        if len(new) == 0:
            return
        recent = np.array([e.item for e in history[-HISTORY_FOR_REASONS:]], dtype=np.int64)
        similarity = self.content.similarity(recent, new)
        if similarity.size == 0:
            return
        best = similarity.max(axis=0)
        chosen = [
            int(i) for i in np.argsort(-best)[: max(1, n // 5)] if best[i] >= NEW_ITEM_SIMILARITY
        ]
        slot = min(2, len(pool))
        top = pool.scores[0] if pool.scores else 1.0
        for offset, index in enumerate(chosen):
            item = int(new[index])
            source = int(recent[int(similarity[:, index].argmax())])
            reason = Reason(
                "new_item",
                f"new in, like {self.catalog.display_name(source)}",
                self.catalog.item_id(source),
            )
            position = slot + offset
            # The score of the place it takes, so that scores stay in list order.
            score = pool.scores[position] if position < len(pool.scores) else float(top)
            pool.items.insert(position, item)
            pool.scores.insert(position, score)
            pool.reasons.insert(position, reason)

    # -- rules ---------------------------------------------------------------------------

    def _finish(
        self,
        pool: _Pool,
        request: RecommendationRequest,
        allowed: BoolArray,
        history: list[HistoryEvent],
    ) -> list[Recommended]:
        """Apply boosts, diversity and pins to the pool; fill a short list with what
        is popular; ``n`` items at most."""
        rules = request.rules
        items = np.asarray(pool.items, dtype=np.int64)
        scores = np.asarray(pool.scores, dtype=np.float64)
        if len(items):
            keep = np.zeros(len(items), dtype=bool)
            _, first = np.unique(items, return_index=True)
            keep[first] = True
            keep &= allowed[items]
            order = np.flatnonzero(keep)
        else:
            order = np.empty(0, dtype=np.int64)
        if rules.boost and len(order):
            adjusted = _unit_scores(scores[order])
            for rule in rules.boost:
                hits = self.catalog.matches(items[order].tolist(), rule.field, rule.value)
                adjusted[hits] *= rule.factor
            order = order[np.argsort(-adjusted, kind="stable")]
        chosen: list[tuple[int, float, Reason | None]] = []
        taken: set[int] = set()
        finite = scores[np.isfinite(scores)]
        pinned_score = float(finite.max()) + 1.0 if len(finite) else 1.0
        per_category: dict[int, int] = {}
        per_brand: dict[int, int] = {}

        def fits(item: int) -> bool:
            category = int(self.catalog.top_category(np.array([item]))[0])
            brand = int(self.catalog.brand(np.array([item]))[0])
            if (
                rules.max_per_category is not None
                and category >= 0
                and per_category.get(category, 0) >= rules.max_per_category
            ):
                return False
            if (
                rules.max_per_brand is not None
                and brand >= 0
                and per_brand.get(brand, 0) >= rules.max_per_brand
            ):
                return False
            per_category[category] = per_category.get(category, 0) + 1
            per_brand[brand] = per_brand.get(brand, 0) + 1
            return True

        # Pins come first, and count towards n and the per-category and brand caps.
        for item_id in rules.pinned.get(request.scenario, ()):
            code = self.catalog.code(item_id)
            if len(chosen) >= request.n:
                break
            usable = code is not None and code < len(allowed) and allowed[code]
            if usable and code is not None and code not in taken and fits(code):
                chosen.append((code, pinned_score, Reason("pinned", "featured")))
                taken.add(code)
        for index in order.tolist():
            if len(chosen) >= request.n:
                break
            item = int(items[index])
            if item in taken or not fits(item):
                continue
            chosen.append((item, _finite(scores[index]), pool.reasons[index]))
            taken.add(item)
        # A short list is filled with what is popular now; "buy it again" lists only
        # what the user bought.
        if len(chosen) < request.n and request.scenario != "buy-again":
            filler = self._popular_pool(self.models, request, allowed)
            for item, score, reason in zip(
                filler.items, filler.scores, filler.reasons, strict=True
            ):
                if len(chosen) >= request.n:
                    break
                if item not in taken and fits(item):
                    chosen.append((item, _finite(score), reason))
                    taken.add(item)
        unexplained = [item for item, _, reason in chosen if reason is None]
        explained: dict[int, Reason] = {}
        if unexplained and pool.explain is not None:
            explained = dict(zip(unexplained, pool.explain(unexplained), strict=True))
        fallback = Reason("personal", "picked for you from what shoppers like you buy")
        return [
            Recommended(item, score, reason or explained.get(item, fallback))
            for item, score, reason in chosen
        ]


def _ranks_by_scores(model: ScoringRecommender) -> bool:
    """Whether ``model`` ranks with the shared ``recommend`` over its scores (so its
    row of scores can be ranked directly; the re-ranker has its own)."""
    recommend: object = getattr(type(model), "recommend", None)
    return recommend is ScoringRecommender.recommend


def _item_item_matrix(loaded: LoadedModel) -> Any:
    """A model's sparse item -> item matrix when it has one: association scores of the
    basket model (cached by it), or the neighbour similarity of item-kNN."""
    scores = getattr(loaded.model, "association_scores", None)
    if callable(scores):
        return scores()
    return getattr(loaded.model, "similarity_", None)


def csr_block(matrix: Any, rows: IntArray, columns: IntArray) -> FloatArray:
    """``matrix[rows][:, columns]`` as a dense array, 0 where a code is -1: a direct
    gather from the CSR arrays (scipy's fancy indexing builds two matrices per call,
    which dominates a single request)."""
    block = np.zeros((len(rows), len(columns)))
    valid_rows = np.flatnonzero(rows >= 0)
    valid_columns = np.flatnonzero(columns >= 0)
    if len(valid_rows) == 0 or len(valid_columns) == 0:
        return block
    starts = matrix.indptr[rows[valid_rows]]
    lengths = matrix.indptr[rows[valid_rows] + 1] - starts
    offsets = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
    positions = offsets + np.arange(int(lengths.sum()))
    found = matrix.indices[positions]
    order = np.argsort(columns[valid_columns], kind="stable")
    wanted = columns[valid_columns][order]
    where = np.clip(np.searchsorted(wanted, found), 0, len(wanted) - 1)
    hit = wanted[where] == found
    row_of = np.repeat(valid_rows, lengths)
    block[row_of[hit], valid_columns[order[where[hit]]]] = matrix.data[positions[hit]]
    return block


def csr_row_sum(matrix: Any, rows: IntArray) -> FloatArray:
    """The sum of ``matrix``'s ``rows`` as a dense vector (a direct gather, as in
    :func:`csr_block`)."""
    total = np.zeros(matrix.shape[1])
    for row in rows.tolist():
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        np.add.at(total, matrix.indices[start:end], matrix.data[start:end])
    return total


def _unit_scores(scores: FloatArray) -> FloatArray:
    """Scores mapped into (0, 1] keeping their order, so multiplying boosts and buries
    whatever the model's scale (some models score below zero)."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    if np.all(np.isnan(finite)):
        return np.linspace(1.0, 0.5, len(scores))
    low, high = np.nanmin(finite), np.nanmax(finite)
    span = high - low
    unit = (finite - low) / span if span > 0 else np.ones(len(scores))
    return np.nan_to_num(0.05 + 0.95 * unit, nan=0.01)


def _finite(score: float) -> float:
    return float(score) if np.isfinite(score) else 0.0


__all__ = [
    "Reason",
    "RecommendationEngine",
    "RecommendationList",
    "RecommendationRequest",
    "Recommended",
    "merge_rules",
]
