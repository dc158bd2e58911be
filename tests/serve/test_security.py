"""API keys, scopes, rate limits and the body-size limit, on a real in-memory store and a
tiny FastAPI app (the real application wires the same parts in ``create_app``)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.types import Message
from typer.testing import CliRunner

from shopsense.cli_keys import keys_app
from shopsense.core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ShopsenseError,
    ValidationFailedError,
)
from shopsense.core.ids import utc_now
from shopsense.core.settings import ServeSettings, Settings, load_settings
from shopsense.serve.security import (
    AdminKey,
    BodySizeLimitMiddleware,
    IngestKey,
    KeyRing,
    RateLimiter,
    ReadKey,
    authorize,
    create_api_key,
    hash_secret,
    parse_token,
    require,
)
from shopsense.store import ApiKeyRecord, ServedRecommendation, Store, open_store

TOKEN = re.compile(r"ss_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


# -- tokens and keys -----------------------------------------------------------------------


def test_token_round_trip_and_the_store_holds_only_the_hash(store: Store) -> None:
    record, token = create_api_key(store, name=" shop backend ", scopes=["read", "ingest"])
    assert TOKEN.fullmatch(token)
    key_id, secret = parse_token(token)
    assert key_id == record.key_id
    assert re.fullmatch(r"[0-9a-f]{12}", key_id)
    assert record.name == "shop backend"
    assert record.scopes == ("ingest", "read")  # canonical order
    assert record.rate_limit is None
    stored = store.get_api_key(key_id)
    assert stored.secret_hash == hash_secret(secret) == record.secret_hash
    assert len(stored.secret_hash) == 64
    assert all(secret not in str(value) for value in dataclasses.astuple(stored))
    _, other = create_api_key(store, name="other", scopes=["read"])
    assert parse_token(other)[0] != key_id


def test_create_api_key_keeps_a_rate_limit_and_dedupes_scopes(store: Store) -> None:
    record, _ = create_api_key(store, name="n", scopes=("admin", "read", "admin"), rate_limit=5)
    assert record.scopes == ("read", "admin")
    assert store.get_api_key(record.key_id).rate_limit == 5.0
    lone, _ = create_api_key(store, name="n", scopes="read")  # a str is one scope
    assert lone.scopes == ("read",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": ["read", "write"]}, "unknown scope(s) 'write'; an API key needs one or more"),
        ({"scopes": []}, "no scope"),
        ({"name": "  "}, "needs a name"),
        ({"rate_limit": 0.0}, "at least 0.001 requests per second"),
        ({"rate_limit": -1.0}, "at least 0.001 requests per second"),
        ({"rate_limit": math.nan}, "at least 0.001 requests per second"),
        ({"rate_limit": math.inf}, "at least 0.001 requests per second"),
        ({"rate_limit": 1e-320}, "at least 0.001 requests per second"),
    ],
)
def test_create_api_key_rejects_bad_input(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"name": "n", "scopes": ["read"], **kwargs}
    with pytest.raises(ValidationFailedError, match=re.escape(message)) as caught:
        create_api_key(store, **arguments)
    if "scope" in message:
        assert "ingest, read, admin" in caught.value.message
    assert store.list_api_keys() == []


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "ss_",
        "ss_0123456789ab",
        "ss_0123456789ab_",
        "xx_0123456789ab_secret",
        "ss_0123456789AB_secret",
        "ss_0123456789a_secret",
        "ss_0123456789ab_sec ret",
        "ss_0123456789ab_sec/ret",
        "ss_0123456789ab_" + "a" * 300,
    ],
)
def test_malformed_tokens_are_refused_with_a_readable_message(token: str) -> None:
    with pytest.raises(AuthenticationError, match="malformed API key"):
        parse_token(token)


def test_a_secret_may_contain_underscores() -> None:
    assert parse_token(" ss_0123456789ab_a_b-c\n") == ("0123456789ab", "a_b-c")


# -- the key ring --------------------------------------------------------------------------


class CountingStore:
    """A real store that counts key reads (to see what the key ring's cache saves)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    def get_api_key(self, key_id: str) -> ApiKeyRecord:
        self.reads += 1
        return self.store.get_api_key(key_id)

    def add_api_key(self, record: ApiKeyRecord) -> None:
        self.store.add_api_key(record)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        return self.store.list_api_keys()

    def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        return self.store.revoke_api_key(key_id)

    def log_served(self, served: Sequence[ServedRecommendation]) -> int:
        return self.store.log_served(served)

    def read_served(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        user_id: str | None = None,
    ) -> list[ServedRecommendation]:
        return self.store.read_served(start=start, end=end, user_id=user_id)


def test_authenticate_accepts_a_valid_token_and_caches_it(store: Store, clock: Clock) -> None:
    counting = CountingStore(store)
    keyring = KeyRing(counting, ServeSettings(), clock=clock)
    record, token = create_api_key(store, name="n", scopes=["read"])
    assert keyring.authenticate(token) == record
    assert keyring.authenticate(f"  {token}\n") == record
    assert counting.reads == 1
    clock.advance(61)
    keyring.authenticate(token)
    assert counting.reads == 2  # the cache expires, so changes by other processes show


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_missing_token_is_refused(store: Store, token: str | None) -> None:
    with pytest.raises(AuthenticationError, match="no API key; send 'Authorization: Bearer"):
        KeyRing(store, ServeSettings()).authenticate(token)


def test_unknown_and_wrong_secret_tokens_are_refused_alike(store: Store) -> None:
    keyring = KeyRing(store, ServeSettings())
    record, token = create_api_key(store, name="n", scopes=["read"])
    key_id, secret = parse_token(token)
    wrong_secret = f"ss_{key_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    unknown = f"ss_{'0' * 12 if key_id != '0' * 12 else '1' * 12}_{secret}"
    for bad in (wrong_secret, unknown):
        with pytest.raises(AuthenticationError, match="is not valid") as caught:
            keyring.authenticate(bad)
        assert caught.value.http_status == 401
    assert keyring.authenticate(token) == record


def test_revoked_keys_are_refused_once_forgotten_or_expired(store: Store, clock: Clock) -> None:
    keyring = KeyRing(store, ServeSettings(), clock=clock)
    record, token = create_api_key(store, name="n", scopes=["read"])
    keyring.authenticate(token)
    store.revoke_api_key(record.key_id)
    assert keyring.authenticate(token) == record  # cached, as another process would see it
    clock.advance(61)
    with pytest.raises(AuthenticationError, match=f"API key {record.key_id} was revoked on"):
        keyring.authenticate(token)

    second, second_token = create_api_key(store, name="m", scopes=["read"])
    keyring.authenticate(second_token)
    store.revoke_api_key(second.key_id)
    keyring.forget(second.key_id)  # what revoking through the API does
    with pytest.raises(AuthenticationError, match="was revoked"):
        keyring.authenticate(second_token)


def test_unknown_key_ids_are_cached_briefly(store: Store, clock: Clock) -> None:
    counting = CountingStore(store)
    keyring = KeyRing(counting, ServeSettings(), clock=clock)
    secret = "s3cr3t-with_enough-entropy"
    token = f"ss_abcdefabcdef_{secret}"
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            keyring.authenticate(token)
    assert counting.reads == 1
    record = ApiKeyRecord(
        key_id="abcdefabcdef",
        name="late",
        secret_hash=hash_secret(secret),
        scopes=("read",),
        rate_limit=None,
        created_at=utc_now(),
    )
    store.add_api_key(record)
    with pytest.raises(AuthenticationError):
        keyring.authenticate(token)  # still in the 5 s negative cache
    clock.advance(5.1)
    assert keyring.authenticate(token) == record
    assert counting.reads == 2


def test_remember_makes_a_new_key_work_at_once(store: Store, clock: Clock) -> None:
    keyring = KeyRing(store, ServeSettings(), clock=clock)
    with pytest.raises(AuthenticationError):
        keyring.authenticate("ss_abcdefabcdef_secret")
    record = ApiKeyRecord(
        key_id="abcdefabcdef",
        name="n",
        secret_hash=hash_secret("secret"),
        scopes=("ingest",),
        rate_limit=2.0,
        created_at=utc_now(),
    )
    store.add_api_key(record)
    keyring.remember(record)
    assert keyring.authenticate("ss_abcdefabcdef_secret") == record
    assert keyring.rate_limit_of(record) == 2.0
    assert keyring.rate_limit_of(dataclasses.replace(record, rate_limit=None)) == 1000.0


def test_the_unknown_cache_is_bounded(store: Store, clock: Clock) -> None:
    keyring = KeyRing(store, ServeSettings(), clock=clock, max_unknown=3)
    for index in range(10):
        with pytest.raises(AuthenticationError):
            keyring.authenticate(f"ss_{index:012x}_secret")
    assert len(keyring._unknown) <= 3


def _record(*scopes: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id="0123456789ab",
        name="n",
        secret_hash=hash_secret("x"),
        scopes=scopes,
        rate_limit=None,
        created_at=utc_now(),
    )


@pytest.mark.parametrize(
    ("scopes", "scope", "allowed"),
    [
        (("read",), "read", True),
        (("read",), "ingest", False),
        (("read",), "admin", False),
        (("ingest",), "ingest", True),
        (("ingest", "read"), "admin", False),
        (("admin",), "read", True),
        (("admin",), "ingest", True),
        (("admin",), "admin", True),
    ],
)
def test_authorize_with_admin_holding_every_scope(
    scopes: tuple[str, ...], scope: str, allowed: bool
) -> None:
    if allowed:
        authorize(_record(*scopes), scope)
    else:
        with pytest.raises(PermissionDeniedError, match=f"needs an API key with scope '{scope}'"):
            authorize(_record(*scopes), scope)


def test_authorize_names_the_key_scopes() -> None:
    with pytest.raises(PermissionDeniedError, match="key 0123456789ab has 'ingest', 'read'"):
        authorize(_record("ingest", "read"), "admin")


# -- rate limits ---------------------------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_refuses_and_refills(clock: Clock) -> None:
    limiter = RateLimiter(ServeSettings(rate_limit=100.0, rate_burst=2.0), clock=clock)
    states = [limiter.check("k", 2.0) for _ in range(4)]  # rate 2/s x burst 2 = 4
    assert [state.remaining for state in states] == [3, 2, 1, 0]
    assert states[0].limit == 4
    assert states[-1].reset_seconds == 2
    with pytest.raises(RateLimitedError) as caught:
        limiter.check("k", 2.0)
    assert caught.value.retry_after == pytest.approx(0.5)
    assert caught.value.http_status == 429
    assert "rate limit of 2 requests per second" in caught.value.message
    clock.advance(0.25)
    with pytest.raises(RateLimitedError) as caught:
        limiter.check("k", 2.0)
    assert caught.value.retry_after == pytest.approx(0.25)
    clock.advance(0.25)
    assert limiter.check("k", 2.0).remaining == 0
    assert limiter.check("other", 2.0).remaining == 3  # buckets are per key
    clock.advance(100)
    assert limiter.state("k", 2.0) == (4, 4, 0)  # refills, never beyond the burst


def test_a_slow_key_still_gets_one_request(clock: Clock) -> None:
    limiter = RateLimiter(ServeSettings(rate_burst=1.0), clock=clock)
    assert limiter.check("slow", 0.1).limit == 1
    with pytest.raises(RateLimitedError) as caught:
        limiter.check("slow", 0.1)
    assert caught.value.retry_after == pytest.approx(10.0)


# -- the dependency in an app --------------------------------------------------------------


class Batch(BaseModel):
    events: list[int]


def _problem_app(app: FastAPI) -> FastAPI:
    async def problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ShopsenseError)
        headers = None
        if isinstance(error, RateLimitedError):
            headers = {"Retry-After": str(math.ceil(error.retry_after))}
        return JSONResponse(
            error.to_problem(),
            status_code=error.http_status,
            headers=headers,
            media_type="application/problem+json",
        )

    app.add_exception_handler(ShopsenseError, problem)
    return app


def _api(store: Store, clock: Clock, **serve: Any) -> TestClient:
    settings = Settings(serve=ServeSettings(**serve))
    app = _problem_app(FastAPI())
    app.state.settings = settings
    app.state.keyring = KeyRing(store, settings.serve, clock=clock)
    app.state.rate_limiter = RateLimiter(settings.serve, clock=clock)

    @app.get("/recommendations")
    def recommendations(key: ReadKey, request: Request) -> dict[str, Any]:
        on_request = getattr(request.state, "api_key", "missing")
        return {"key_id": key.key_id if key else None, "same": on_request is key}

    @app.post("/events")
    def events(key: IngestKey) -> dict[str, Any]:
        return {"key_id": key.key_id if key else None}

    @app.post("/train")
    def train(key: AdminKey) -> dict[str, Any]:
        return {"key_id": key.key_id if key else None}

    return TestClient(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_require_refuses_requests_without_a_valid_key(store: Store, clock: Clock) -> None:
    client = _api(store, clock)
    _, token = create_api_key(store, name="n", scopes=["read"])
    response = client.get("/recommendations")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"
    assert "no API key" in response.json()["detail"]
    response = client.get("/recommendations", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert "must read 'Bearer <token>'" in response.json()["detail"]
    assert client.get("/recommendations", headers=_bearer("nonsense")).status_code == 401
    assert client.get("/recommendations", headers=_bearer(token + "x")).status_code == 401


def test_require_accepts_bearer_and_x_api_key(store: Store, clock: Clock) -> None:
    client = _api(store, clock)
    record, token = create_api_key(store, name="n", scopes=["read"])
    for headers in (_bearer(token), {"X-API-Key": token}, {"x-api-key": token}):
        response = client.get("/recommendations", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"key_id": record.key_id, "same": True}
    assert response.headers["RateLimit-Limit"] == "2000"
    assert response.headers["RateLimit-Remaining"] == "1997"
    assert int(response.headers["RateLimit-Reset"]) >= 0


def test_require_checks_the_scope(store: Store, clock: Clock) -> None:
    client = _api(store, clock)
    _, reader = create_api_key(store, name="r", scopes=["read"])
    _, admin = create_api_key(store, name="a", scopes=["admin"])
    response = client.post("/events", headers=_bearer(reader))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "scope 'ingest'" in response.json()["detail"]
    assert client.post("/train", headers=_bearer(reader)).status_code == 403
    for path in ("/events", "/train"):
        assert client.post(path, headers=_bearer(admin)).status_code == 200
    assert client.get("/recommendations", headers=_bearer(admin)).status_code == 200


def test_require_rate_limits_per_key(store: Store, clock: Clock) -> None:
    client = _api(store, clock, rate_limit=1000.0, rate_burst=1.0)
    _, slow = create_api_key(store, name="slow", scopes=["read"], rate_limit=2.0)
    _, fast = create_api_key(store, name="fast", scopes=["read"])
    for _ in range(2):
        assert client.get("/recommendations", headers=_bearer(slow)).status_code == 200
    response = client.get("/recommendations", headers=_bearer(slow))
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "1"
    assert client.get("/recommendations", headers=_bearer(fast)).status_code == 200
    clock.advance(0.5)
    assert client.get("/recommendations", headers=_bearer(slow)).status_code == 200


def test_no_keys_needed_when_require_api_keys_is_off(store: Store, clock: Clock) -> None:
    client = _api(store, clock, require_api_keys=False)
    response = client.get("/recommendations")
    assert response.status_code == 200
    assert response.json() == {"key_id": None, "same": True}
    assert "RateLimit-Limit" not in response.headers
    assert client.post("/train", headers=_bearer("garbage")).status_code == 200


def test_openapi_shows_both_security_schemes(store: Store, clock: Clock) -> None:
    schema = _api(store, clock).get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key as 'Authorization: Bearer ss_<key id>_<secret>'.",
    }
    assert schemes["ApiKeyHeader"]["in"] == "header"
    assert schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    security = schema["paths"]["/recommendations"]["get"]["security"]
    assert {"BearerToken": []} in security
    assert {"ApiKeyHeader": []} in security


def test_require_refuses_unknown_scopes_and_a_missing_wiring(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown scope 'write'"):
        require("write")
    app = _problem_app(FastAPI())

    @app.get("/x")
    def x(key: ReadKey) -> None:
        return None

    response = TestClient(app).get("/x")
    assert response.status_code == 500
    assert "app.state.settings must be a Settings" in response.json()["detail"]


# -- the body-size limit -------------------------------------------------------------------


def _limited_app(max_bytes: int = 100) -> TestClient:
    app = _problem_app(FastAPI())
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_bytes)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.post("/batch")
    def batch(body: Batch) -> dict[str, int]:
        return {"events": len(body.events)}

    return TestClient(app)


def _assert_413(response: Any) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "PayloadTooLargeError"
    assert problem["status"] == 413
    assert problem["code"] == "payload_too_large"
    assert "larger than the 100 bytes this server accepts" in problem["detail"]


def test_bodies_within_the_limit_pass() -> None:
    client = _limited_app()
    assert client.post("/raw", content=b"x" * 100).json() == {"received": 100}
    assert client.post("/batch", json={"events": [1, 2, 3]}).json() == {"events": 3}
    assert client.get("/openapi.json").status_code == 200


def test_a_large_content_length_is_refused_before_reading() -> None:
    client = _limited_app()
    response = client.post("/raw", content=b"x" * 101)
    _assert_413(response)
    assert "(101 bytes)" in response.json()["detail"]
    _assert_413(client.post("/batch", json={"events": list(range(100))}))


def test_a_large_chunked_body_is_refused() -> None:
    client = _limited_app()

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 30

    for path in ("/raw", "/batch"):  # the batch route turns read errors into a 400: still 413
        response = client.post(path, content=chunks())
        _assert_413(response)
        assert "content-length" not in {k.lower() for k in response.request.headers}
    assert client.post("/raw", content=iter([b"a" * 50, b"b" * 50])).json() == {"received": 100}


def test_the_middleware_stops_reading_a_stream_at_the_limit() -> None:
    reads: list[int] = []
    sent: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> Message:
        reads.append(len(reads))
        return {"type": "http.request", "body": b"z" * 40, "more_body": len(reads) < 100}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = BodySizeLimitMiddleware(app, max_bytes=100)
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert len(reads) == 3  # 120 bytes > 100: no fourth read
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert len(sent) == 2


# -- the CLI -------------------------------------------------------------------------------


@dataclass
class _State:
    settings: Settings


def _cli() -> typer.Typer:
    """A parent like shopsense.cli: its callback puts the settings on ctx.obj."""
    parent = typer.Typer()

    @parent.callback()
    def main(ctx: typer.Context, store: str = typer.Option(...)) -> None:
        ctx.obj = _State(settings=load_settings(store_url=store))

    parent.add_typer(keys_app, name="keys")
    return parent


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    url = f"duckdb://{(tmp_path / 'keys.duckdb').as_posix()}"
    runner = CliRunner()
    cli = _cli()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--store", url, "keys", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "no API keys" in run("list")
    output = run(
        "create", "--name", "webshop", "--scope", "ingest", "--scope", "read", "--rate-limit", "5"
    )
    tokens = TOKEN.findall(output)
    assert len(tokens) == 1
    token = tokens[0]
    assert "shown only now" in output
    assert "scopes: ingest, read" in output
    key_id, secret = parse_token(token)
    assert key_id in output
    with open_store(url) as store:
        assert KeyRing(store, ServeSettings()).authenticate(token).name == "webshop"

    listing = run("list")
    assert key_id in listing
    assert "webshop" in listing
    assert secret not in listing
    assert "default" not in listing

    assert f"revoked API key {key_id} (webshop)" in run("revoke", key_id)
    assert f"revoked API key {key_id}" in run("revoke", key_id)  # safe to run again
    with open_store(url) as store:
        revoked_at = store.get_api_key(key_id).revoked_at
        assert revoked_at is not None
        assert revoked_at > utc_now() - timedelta(minutes=5)
        with pytest.raises(AuthenticationError, match="was revoked"):
            KeyRing(store, ServeSettings()).authenticate(token)
    assert f"{revoked_at:%Y-%m-%d}" in run("list").split(key_id, 1)[1]


def test_cli_errors_reach_the_main_handler(tmp_path: Path) -> None:
    url = f"duckdb://{(tmp_path / 'keys.duckdb').as_posix()}"
    runner = CliRunner()
    result = runner.invoke(
        _cli(), ["--store", url, "keys", "create", "--name", "x", "--scope", "w"]
    )
    assert isinstance(result.exception, ValidationFailedError)
    assert "ingest, read, admin" in result.exception.message
    result = runner.invoke(_cli(), ["--store", url, "keys", "revoke", "0123456789ab"])
    assert isinstance(result.exception, NotFoundError)
    assert result.exit_code != 0


def test_cli_sub_app_alone_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPSENSE_STORE_URL", f"duckdb://{(tmp_path / 'k.duckdb').as_posix()}")
    result = CliRunner().invoke(
        keys_app, ["create", "--name", "solo", "--scope", "admin"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "solo" in CliRunner().invoke(keys_app, ["list"], catch_exceptions=False).output
