"""The serving benchmark's pure helpers (benchmarks/serve.py): token parsing, response
checks and request makers. The benchmark itself runs against a real server (smoke runs,
not part of the test suite)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _loadgen import RequestSpec

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# Loaded under its own name: "serve" could meet another module of that name.
_spec = importlib.util.spec_from_file_location("shopsense_bench_serve", BENCHMARKS / "serve.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)
ShopSample = bench.ShopSample
page_requests = bench.page_requests
parse_token = bench.parse_token
recommendation_check = bench.recommendation_check

SPEC = RequestSpec("GET", "/x")


def test_parse_token_finds_the_token_line() -> None:
    output = (
        "created API key 1a2b (bench)\n"
        "scopes: admin\n"
        "token (shown only now; store it safely, it cannot be recovered):\n"
        "ss_bcad297d4271_-ul_IvwRpqwZ9lhJG2Z2dwd48b-japt5_BitKJswdBE\n"
    )
    assert parse_token(output) == "ss_bcad297d4271_-ul_IvwRpqwZ9lhJG2Z2dwd48b-japt5_BitKJswdBE"
    assert parse_token("created API key\nno token here\n") is None


@pytest.mark.parametrize(
    ("body", "non_empty", "error"),
    [
        (b'{"rec_id":"r","items":[{"item_id":"a"}]}', True, False),
        (b'{"rec_id":"r","items":[]}', True, True),
        (b'{"rec_id": "r", "items": [ ]}', True, True),
        (b'{"rec_id":"r","items":[]}', False, False),
        (b'{"rec_id":"r"}', False, True),
        (b'{"items":[{"item_id":"a"}]}', True, True),  # the first is parsed: no rec_id
    ],
)
def test_recommendation_check(body: bytes, non_empty: bool, error: bool) -> None:
    check = recommendation_check(non_empty=non_empty)
    assert (check(SPEC, 200, body) is not None) is error


def sample(pairs: list[tuple[str, str]]) -> Any:
    return ShopSample(
        users=["u 1/x"],
        items=["i/1"],
        baskets=[["b1", "b2", "b3"]],
        basket_items=["b1", "b2", "b3"],
        anchors=sorted({anchor for anchor, _ in pairs}),
        pairs=pairs,
    )


def test_requests_quote_ids_and_use_anchors_and_pairs() -> None:
    makers = page_requests(sample([("a/1", "p 2")]), {"Authorization": "Bearer t"}, seed=0)
    assert makers["bought-together"](0).path == "/v1/items/a%2F1/bought-together?n=10"
    assert makers["similar"](0).path == "/v1/items/i%2F1/similar?n=10"
    assert makers["buy-again"](0).path.startswith("/v1/users/u%201%2Fx/recommendations?")
    carts = {makers["cart"](index).path.split("items=")[1] for index in range(50)}
    assert carts == {"a%2F1,p%202"}
    session = makers["session"](0)
    assert session.method == "POST"
    assert session.body is not None
    assert json.loads(session.body)["items"] == ["b1", "b2", "b3"]


def test_without_pairs_carts_come_from_orders() -> None:
    makers = page_requests(sample([]), {}, seed=0)
    assert makers["cart"](0).path.endswith("scenario=cart&items=b1,b2")
    assert makers["bought-together"](0).path == "/v1/items/i%2F1/bought-together?n=10"
