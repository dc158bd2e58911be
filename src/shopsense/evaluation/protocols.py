"""The benchmark protocols of ``docs/BENCHMARKS.md``: fixed splits of the published files.

Each protocol reads its dataset file as published and returns a :class:`Split`: the
training :class:`~shopsense.features.Interactions`, the users to evaluate with their
histories (the input at prediction time) and truth, which metrics to report, and a
validation :class:`Split` built by the same rules from training data only, for tuning.

=====================  ==============================  =====================================
name                   file                            metrics
=====================  ==============================  =====================================
seq-loo                amazon-beauty/Beauty.txt        HR, NDCG @10 @20
retail-temporal        online-retail/online_retail...  Recall, NDCG, HR, coverage @20
retail-temporal-new    (same)                          (same)
ml100k                 movielens-100k/u.data           Precision, Recall, NDCG, MAP @10
temporal               any store (:func:`temporal`)    Recall, NDCG, HR, coverage @20
=====================  ==============================  =====================================

The rules are spelled out in ``docs/evaluation.md``; cleaning follows BENCHMARKS.md
exactly, which is why the files are read here directly rather than through the
importers (those keep guest lines and cancellations as events).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from shopsense.core.errors import ConfigurationError
from shopsense.data.importers import SEQUENCE_BASE_TIME, SEQUENCE_STEP
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.store.base import EventStore

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

SEED = 42
"""The seed of every random split (ml100k)."""

RETAIL_CUTOFF = datetime(2011, 9, 1, tzinfo=UTC)
RETAIL_INNER_CUTOFF = datetime(2011, 6, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Split:
    """One train/evaluate split of a protocol.

    - ``train``: what the model is fitted on; its ``item_ids`` are the item vocabulary
      (ranking is over all of them) and ``user_ids`` the training users;
    - ``users``: ``(n_eval,)`` original ids of the evaluated users;
    - ``histories[u]``: int64 item codes, time-ordered, the input when recommending for
      ``users[u]``;
    - ``truth[u]``: int64 distinct item codes relevant to ``users[u]`` (never empty);
    - ``exclude_seen``: whether history items are removed from the lists;
    - ``metrics``: the names reported (``"NDCG@10"``, see :mod:`.metrics`);
    - ``validation``: the same protocol one step earlier, for tuning (None inside a
      validation split);
    - ``history_times[u]``: Unix seconds parallel to ``histories[u]`` (None where the
      protocol has no real times) and ``now``: the moment the lists are asked for
      (the cutoff), for time-aware models.
    """

    protocol: str
    train: Interactions
    users: StrArray
    histories: list[IntArray]
    truth: list[IntArray]
    exclude_seen: bool
    metrics: tuple[str, ...]
    validation: Split | None = field(default=None, repr=False)
    history_times: list[IntArray] | None = field(default=None, repr=False)
    now: int | None = None

    def __post_init__(self) -> None:
        if not len(self.users) == len(self.histories) == len(self.truth):
            raise ValueError("users, histories and truth differ in length")
        if self.history_times is not None and [len(t) for t in self.history_times] != [
            len(h) for h in self.histories
        ]:
            raise ValueError("history_times do not match the histories")
        if any(len(t) == 0 for t in self.truth):
            raise ValueError("a user has an empty truth; protocols leave such users out")

    @property
    def item_ids(self) -> StrArray:
        """The item vocabulary: original ids indexed by item code."""
        return self.train.item_ids

    @property
    def n_items(self) -> int:
        return self.train.n_items

    @property
    def n_users(self) -> int:
        """How many users are evaluated."""
        return len(self.users)

    @property
    def max_k(self) -> int:
        """The longest cutoff among :attr:`metrics`."""
        return max(int(name.partition("@")[2]) for name in self.metrics)

    def summary(self) -> dict[str, int | float | str]:
        """Sizes worth reporting beside the metrics."""
        return {
            "protocol": self.protocol,
            "users_evaluated": self.n_users,
            "items": self.n_items,
            "train_users": self.train.n_users,
            "train_interactions": len(self.train),
            "truth_items": int(sum(len(t) for t in self.truth)),
            "mean_history_length": float(np.mean([len(h) for h in self.histories]))
            if self.histories
            else 0.0,
        }


# -- seq-loo -------------------------------------------------------------------------------

SEQ_LOO_METRICS = ("HR@10", "NDCG@10", "HR@20", "NDCG@20")


def read_sequences(path: Path) -> tuple[list[str], list[list[str]]]:
    """``user item1 item2 ...`` lines (Beauty.txt) -> user ids and their item ids."""
    users: list[str] = []
    sequences: list[list[str]] = []
    with path.open(encoding="utf-8") as file:
        for line in file:
            fields = line.split()
            if len(fields) >= 2:
                users.append(fields[0])
                sequences.append(fields[1:])
    return users, sequences


def seq_loo(path: Path) -> Split:
    """Leave-one-out next-item split of a sequence file (Amazon Beauty).

    Per user: last item = test target, second to last = validation target, the rest
    trains. Test histories are everything before the test target (training items plus
    the validation target); validation histories are the training items. Full ranking
    over every item of the file, history items excluded. Users with fewer than three
    items cannot give both targets and are left out (none in the 5-core files).
    """
    users, sequences = read_sequences(path)
    kept = [(u, s) for u, s in zip(users, sequences, strict=True) if len(s) >= 3]
    if len(kept) < len(users):
        logger.info("seq-loo: %d users with < 3 items left out", len(users) - len(kept))
    item_vocabulary = _numeric_sorted({item for _, s in kept for item in s})
    user_vocabulary = _numeric_sorted({u for u, _ in kept})
    step = int(SEQUENCE_STEP.total_seconds())
    base = int(SEQUENCE_BASE_TIME.timestamp())
    train_users = [u for u, s in kept for _ in s[:-2]]
    train_items = [item for _, s in kept for item in s[:-2]]
    train_times = [base + k * step for _, s in kept for k in range(len(s) - 2)]
    train = Interactions.from_arrays(
        train_users,
        train_items,
        train_times,
        user_vocabulary=user_vocabulary,
        item_vocabulary=item_vocabulary,
    )
    code = {item: c for c, item in enumerate(item_vocabulary.tolist())}

    def codes(items: Sequence[str]) -> IntArray:
        return np.fromiter((code[i] for i in items), np.int64, len(items))

    train = train.with_catalog(_beauty_catalog(path, item_vocabulary))
    evaluated = np.array([u for u, _ in kept], dtype=str)

    def times(length: int) -> IntArray:
        return base + step * np.arange(length, dtype=np.int64)

    validation = Split(
        protocol="seq-loo",
        train=train,
        users=evaluated,
        histories=[codes(s[:-2]) for _, s in kept],
        truth=[codes(s[-2:-1]) for _, s in kept],
        exclude_seen=True,
        metrics=SEQ_LOO_METRICS,
        history_times=[times(len(s) - 2) for _, s in kept],
    )
    return Split(
        protocol="seq-loo",
        train=train,
        users=evaluated,
        histories=[codes(s[:-1]) for _, s in kept],
        truth=[codes(s[-1:]) for _, s in kept],
        exclude_seen=True,
        metrics=SEQ_LOO_METRICS,
        validation=validation,
        history_times=[times(len(s) - 1) for _, s in kept],
    )


def _beauty_catalog(path: Path, item_vocabulary: StrArray) -> ItemCatalog | None:
    """Item texts from the attribute names (brand, categories) of
    ``Beauty_item2attributes.json`` and ``datamaps.json`` beside the sequence file, when
    both are there (the Amazon files carry no titles)."""
    attributes_path = path.parent / f"{path.stem}_item2attributes.json"
    maps_path = path.parent / "datamaps.json"
    if not (attributes_path.exists() and maps_path.exists()):
        return None
    attributes = json.loads(attributes_path.read_text(encoding="utf-8"))
    names = json.loads(maps_path.read_text(encoding="utf-8")).get("id2attribute", {})
    text = {
        item: ", ".join(str(names.get(str(a), "")) for a in ids if str(a) in names)
        for item, ids in attributes.items()
    }
    return ItemCatalog.from_mappings(item_vocabulary, text=text)


# -- retail-temporal -----------------------------------------------------------------------

RETAIL_METRICS = ("Recall@20", "NDCG@20", "HR@20", "coverage@20")


def read_online_retail(path: Path) -> pd.DataFrame:
    """The cleaned purchase lines of UCI Online Retail: columns ``user_id``, ``item_id``,
    ``ts`` (int64 Unix seconds, the naive InvoiceDate read as UTC), ``quantity``,
    ``price`` (UnitPrice) and ``description``, ordered by time.

    Cleaning (BENCHMARKS.md): drop lines with no CustomerID, invoices starting with
    ``C``, Quantity <= 0, UnitPrice <= 0; item = StockCode trimmed, upper-case.
    """
    frame = pd.read_csv(
        path,
        usecols=[
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
        ],
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str, "Description": str},
        encoding="latin-1",
    )
    customer = frame["CustomerID"].astype("string").str.strip()
    keep = (
        customer.notna()
        & (customer != "")
        & ~frame["InvoiceNo"].astype("string").str.strip().str.upper().str.startswith("C")
        & (frame["Quantity"] > 0)
        & (frame["UnitPrice"] > 0)
    ).fillna(False)
    kept = frame[keep.to_numpy(dtype=bool)]
    try:
        times = pd.to_datetime(kept["InvoiceDate"], format="ISO8601")
    except ValueError:  # the spreadsheet's US export, 12/1/2010 8:26
        times = pd.to_datetime(kept["InvoiceDate"], format="mixed", dayfirst=False)
    cleaned = pd.DataFrame(
        {
            # "17850.0" when a spreadsheet export made the column numeric
            "user_id": customer[keep.to_numpy(dtype=bool)].str.removesuffix(".0").to_numpy(),
            "item_id": kept["StockCode"].astype("string").str.strip().str.upper().to_numpy(),
            "ts": (times.astype("datetime64[s]").astype(np.int64)).to_numpy(),
            "quantity": kept["Quantity"].to_numpy(dtype=np.float64),
            "price": kept["UnitPrice"].to_numpy(dtype=np.float64),
            "description": kept["Description"].fillna("").astype(str).str.strip().to_numpy(),
        }
    )
    return cleaned.sort_values("ts", kind="stable").reset_index(drop=True)


def temporal_split(
    frame: pd.DataFrame,
    cutoff: int,
    *,
    end: int | None = None,
    new_only: bool,
    protocol: str,
    metrics: tuple[str, ...],
) -> Split:
    """Cut time-ordered interactions (``user_id``, ``item_id``, ``ts``) at ``cutoff``.

    Train: lines with ``ts < cutoff``. Test window: ``cutoff <= ts < end`` (``end`` None:
    to the end). Evaluated users: those with lines on both sides, in order of user id.
    Truth: the distinct items of the window; with ``new_only`` minus the items the user
    had before (and users left with nothing dropped), and history items excluded from
    the lists. Histories: the user's training items in time order (repeats kept). Item
    vocabulary: every item of the lines up to ``end``, so that items first sold in the
    window are ranked too (and count in recall's denominator).
    """
    if end is not None:
        frame = frame[frame["ts"] < end]
    before = frame[frame["ts"] < cutoff]
    after = frame[frame["ts"] >= cutoff]
    item_vocabulary = np.unique(frame["item_id"].to_numpy().astype(str))
    train = Interactions.from_arrays(
        before["user_id"].to_numpy(),
        before["item_id"].to_numpy(),
        before["ts"].to_numpy(),
        item_vocabulary=item_vocabulary,
    )
    train = train.with_catalog(catalog_from_lines(frame, item_vocabulary))
    sequences = train.sequences()
    time_sequences = train.time_sequences()
    user_code = {user: c for c, user in enumerate(train.user_ids.tolist())}
    item_code = {item: c for c, item in enumerate(item_vocabulary.tolist())}
    bought_after = after.groupby("user_id", sort=True)["item_id"].unique()
    users: list[str] = []
    histories: list[IntArray] = []
    history_times: list[IntArray] = []
    truth: list[IntArray] = []
    for user, items in bought_after.items():
        code = user_code.get(str(user))
        if code is None:
            continue
        history = sequences[code]
        relevant = np.unique(np.fromiter((item_code[i] for i in items), np.int64, len(items)))
        if new_only:
            relevant = np.setdiff1d(relevant, history)
            if len(relevant) == 0:
                continue
        users.append(str(user))
        histories.append(history)
        history_times.append(time_sequences[code])
        truth.append(relevant)
    return Split(
        protocol=protocol,
        train=train,
        users=np.array(users, dtype=str),
        histories=histories,
        truth=truth,
        exclude_seen=new_only,
        metrics=metrics,
        history_times=history_times,
        now=cutoff,
    )


def catalog_from_lines(frame: pd.DataFrame, item_vocabulary: StrArray) -> ItemCatalog | None:
    """Item attributes from purchase lines with ``description`` and/or ``price``
    columns: each item's most frequent description and median price (the catalog a shop
    has at serving time, new items included). None when the lines carry neither."""
    if "description" not in frame.columns and "price" not in frame.columns:
        return None
    text: dict[str, str] | None = None
    price: dict[str, float] | None = None
    if "description" in frame.columns:
        described = frame[frame["description"] != ""]
        counts = described.groupby(["item_id", "description"], sort=True).size()
        best = counts.sort_values(ascending=False, kind="stable").reset_index()
        first = best.drop_duplicates("item_id")
        text = dict(
            zip(first["item_id"].astype(str), first["description"].astype(str), strict=True)
        )
    if "price" in frame.columns:
        medians = frame.groupby("item_id", sort=True)["price"].median()
        price = {str(k): float(v) for k, v in medians.items()}
    return ItemCatalog.from_mappings(item_vocabulary, text=text, price=price)


def _retail(path: Path, *, new_only: bool) -> Split:
    name = "retail-temporal-new" if new_only else "retail-temporal"
    frame = read_online_retail(path)
    cutoff, inner = int(RETAIL_CUTOFF.timestamp()), int(RETAIL_INNER_CUTOFF.timestamp())
    validation = temporal_split(
        frame, inner, end=cutoff, new_only=new_only, protocol=name, metrics=RETAIL_METRICS
    )
    test = temporal_split(frame, cutoff, new_only=new_only, protocol=name, metrics=RETAIL_METRICS)
    return _with_validation(test, validation)


def retail_temporal(path: Path) -> Split:
    """Online Retail, cutoff 2011-09-01; truth = distinct items bought after (repurchases
    count, so histories are not excluded). Validation: cutoff 2011-06-01, window up to
    2011-09-01."""
    return _retail(path, new_only=False)


def retail_temporal_new(path: Path) -> Split:
    """:func:`retail_temporal` where items bought before the cutoff leave the lists and the
    truth; users with no new item are dropped."""
    return _retail(path, new_only=True)


# -- ml100k --------------------------------------------------------------------------------

ML100K_METRICS = ("Precision@10", "Recall@10", "NDCG@10", "MAP@10")


def random_holdout(
    user_codes: IntArray, fraction: float, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Mark ``round_half_up(fraction * n_u)`` random interactions of each user.

    ``user_codes``: ``(n,)``. Every interaction draws ``rng.random()`` in input order
    (for :class:`Interactions`: time order, ties in input order);
    within each user the interactions with the smallest draws are marked.
    """
    draws = rng.random(len(user_codes))
    order = np.lexsort((draws, user_codes))
    counts = np.bincount(user_codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(user_codes), np.int64)
    rank[order] = np.arange(len(user_codes)) - np.repeat(starts, counts)
    held = np.floor(fraction * counts + 0.5).astype(np.int64)
    marked: npt.NDArray[np.bool_] = rank < held[user_codes]
    return marked


def _holdout_split(interactions: Interactions, held: npt.NDArray[np.bool_], protocol: str) -> Split:
    train = interactions.subset(~held)
    sequences = train.sequences()
    test = interactions.subset(held)
    test_sequences = test.sequences()
    evaluated = [u for u in range(interactions.n_users) if len(test_sequences[u])]
    return Split(
        protocol=protocol,
        train=train,
        users=interactions.user_ids[evaluated],
        histories=[sequences[u] for u in evaluated],
        truth=[np.unique(test_sequences[u]) for u in evaluated],
        exclude_seen=True,
        metrics=ML100K_METRICS,
    )


def ml100k(path: Path) -> Split:
    """MovieLens 100K ``u.data`` (or its folder): every rating is a positive; per user
    a random 25% (rounded half up) is the truth, seed 42; seen items removed.
    Validation: a random 10% of each user's training part (a fresh generator, seed 42)."""
    ratings = path / "u.data" if path.is_dir() else path
    frame = pd.read_csv(
        ratings,
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "ts"],
        dtype={"user_id": str, "item_id": str, "rating": np.int64, "ts": np.int64},
    )
    # Numeric order of the ids, so that codes (and the seed's draws) follow the file's ids.
    interactions = Interactions.from_arrays(
        frame["user_id"].to_numpy(),
        frame["item_id"].to_numpy(),
        frame["ts"].to_numpy(),
        user_vocabulary=_numeric_sorted(set(frame["user_id"])),
        item_vocabulary=_numeric_sorted(set(frame["item_id"])),
    )
    # The draws follow the interactions' order: by time, ties in file order.
    test = _holdout_split(
        interactions,
        random_holdout(interactions.user_codes, 0.25, np.random.default_rng(SEED)),
        "ml100k",
    )
    inner = test.train
    validation = _holdout_split(
        inner, random_holdout(inner.user_codes, 0.10, np.random.default_rng(SEED)), "ml100k"
    )
    return _with_validation(test, validation)


# -- temporal (any store) ------------------------------------------------------------------

TEMPORAL_METRICS = RETAIL_METRICS


def temporal(
    store: EventStore,
    *,
    test_fraction: float = 0.2,
    new_only: bool = False,
    types: Sequence[str] | None = None,
) -> Split:
    """A time split of any store's interactions (:meth:`EventStore.interactions`).

    The cutoff is the ``1 - test_fraction`` quantile of the interactions' timestamps
    (so about ``test_fraction`` of them are in the test window); then the rules of
    :func:`temporal_split`. Validation: the same rule applied to the training part.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    table = store.interactions(types=types)
    if table.num_rows == 0:
        raise ConfigurationError("the store has no interactions to split")
    frame = pd.DataFrame(
        {
            "user_id": table.column("user_id").to_numpy(zero_copy_only=False).astype(str),
            "item_id": table.column("item_id").to_numpy(zero_copy_only=False).astype(str),
            "ts": table.column("ts").cast(pa.int64()).to_numpy() // 1_000_000,
        }
    )
    cutoff = _quantile_cutoff(frame["ts"].to_numpy(), test_fraction)
    test = temporal_split(
        frame, cutoff, new_only=new_only, protocol="temporal", metrics=TEMPORAL_METRICS
    )
    before = frame[frame["ts"] < cutoff]
    inner = _quantile_cutoff(before["ts"].to_numpy(), test_fraction) if len(before) else cutoff
    validation = temporal_split(
        frame, inner, end=cutoff, new_only=new_only, protocol="temporal", metrics=TEMPORAL_METRICS
    )
    return _with_validation(test, validation)


def _quantile_cutoff(times: IntArray, test_fraction: float) -> int:
    return int(np.quantile(times, 1.0 - test_fraction, method="higher"))


# -- registry ------------------------------------------------------------------------------

PROTOCOLS: dict[str, Callable[[Path], Split]] = {
    "seq-loo": seq_loo,
    "retail-temporal": retail_temporal,
    "retail-temporal-new": retail_temporal_new,
    "ml100k": ml100k,
}
"""File-based protocols by name; ``temporal`` takes a store instead (:func:`load_split`)."""


def load_split(name: str, dataset: Path | str) -> Split:
    """The split of protocol ``name`` on ``dataset`` (a file; for ``temporal`` a store
    URL such as ``duckdb:///srv/shop.duckdb`` or the path of a DuckDB file)."""
    if name == "temporal":
        from shopsense.store import open_store  # noqa: PLC0415 - only this protocol needs it

        url = str(dataset) if "://" in str(dataset) else f"duckdb:///{Path(dataset).resolve()}"
        with open_store(url, read_only=True) as store:
            split = temporal(store)
            items = store.read_items()
        return attach_catalog(split, items)
    if name not in PROTOCOLS:
        known = ", ".join([*sorted(PROTOCOLS), "temporal"])
        raise ConfigurationError(f"unknown protocol {name!r}; known: {known}")
    path = Path(dataset)
    if not path.exists():
        raise ConfigurationError(f"dataset {path} does not exist")
    return PROTOCOLS[name](path)


def _with_validation(test: Split, validation: Split) -> Split:
    return replace(test, validation=validation)


def attach_catalog(split: Split, items: pa.Table) -> Split:
    """``split`` (and its validation split) with the store's item attributes attached."""
    if items.num_rows == 0:
        return split
    catalog = ItemCatalog.from_items_table(items, split.train.item_ids)
    validation = None if split.validation is None else attach_catalog(split.validation, items)
    return replace(split, train=split.train.with_catalog(catalog), validation=validation)


def _numeric_sorted(ids: set[str]) -> StrArray:
    """Ids in numeric order when all are integers, else in string order."""
    values = sorted(ids)
    if all(v.isdigit() for v in values):
        values.sort(key=int)
    return np.array(values, dtype=str)


__all__ = [
    "PROTOCOLS",
    "Split",
    "attach_catalog",
    "load_split",
    "ml100k",
    "random_holdout",
    "read_online_retail",
    "read_sequences",
    "retail_temporal",
    "retail_temporal_new",
    "seq_loo",
    "temporal",
    "temporal_split",
]
