"""API keys, scopes, rate limits and the request-size limit of the HTTP API.

A key is shown once, as the token ``ss_<key_id>_<secret>``: ``key_id`` is 12 lowercase hex
characters (public: it names the key in lists and logs), ``secret`` is
``secrets.token_urlsafe(32)``. The store keeps only ``sha256(secret)``.

A request goes through, in this order (see :func:`require`):

1. :meth:`KeyRing.authenticate`: the token names an active key and its secret matches
   (:class:`~shopsense.core.errors.AuthenticationError`, 401);
2. :func:`authorize`: the key holds the scope the route needs, ``admin`` holding all
   (:class:`~shopsense.core.errors.PermissionDeniedError`, 403);
3. :meth:`RateLimiter.check`: a token bucket per key
   (:class:`~shopsense.core.errors.RateLimitedError`, 429, with ``retry_after``).

The application wires them on ``app.state``: ``settings`` (:class:`Settings`),
``keyring`` (:class:`KeyRing`) and ``rate_limiter`` (:class:`RateLimiter`), and wraps
itself in :class:`BodySizeLimitMiddleware`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopsense.core.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationFailedError,
)
from shopsense.core.ids import utc_now
from shopsense.core.settings import API_SCOPES, ServeSettings, Settings
from shopsense.store.base import AccessStore, ApiKeyRecord

__all__ = [
    "ADMIN_SCOPE",
    "TOKEN_PREFIX",
    "AdminKey",
    "BodySizeLimitMiddleware",
    "IngestKey",
    "KeyRing",
    "RateLimitState",
    "RateLimiter",
    "ReadKey",
    "authorize",
    "create_api_key",
    "hash_secret",
    "parse_token",
    "rate_limit_headers",
    "require",
]

TOKEN_PREFIX = "ss"
"""Every token starts with ``ss_``, so that secret scanners and people can tell what it is."""

ADMIN_SCOPE = "admin"
MIN_RATE = 0.001
"""The slowest rate limit a key may have (one request in about 17 minutes)."""
"""The scope that includes every other one."""

_KEY_ID = re.compile(r"[0-9a-f]{12}")
_SECRET = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN_LENGTH = 256  # ours are 59 characters; longer input is not worth hashing
_TOKEN_FORM = f"'{TOKEN_PREFIX}_<key id>_<secret>' as printed by 'shopsense keys create'"


# -- tokens and keys -----------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest of ``secret``: what the store keeps instead of the secret.

    A plain fast hash is right here, unlike for passwords: the secret is 256 random bits
    from :func:`secrets.token_urlsafe`, so there is nothing to guess and a slow key
    derivation function (bcrypt, argon2) would only cost time on every request."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_token(token: str) -> tuple[str, str]:
    """``(key_id, secret)`` of a token ``ss_<key_id>_<secret>``; anything else is an
    :class:`~shopsense.core.errors.AuthenticationError` that says what a token looks like."""
    token = token.strip()
    if len(token) > _MAX_TOKEN_LENGTH:
        raise AuthenticationError(f"malformed API key: too long; expected {_TOKEN_FORM}")
    # split at most twice: the secret itself may contain '_'
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        raise AuthenticationError(f"malformed API key; expected {_TOKEN_FORM}")
    return key_id, secret


def _validated_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):  # a lone "read" would otherwise be read as 'r', 'e', ...
        scopes = (scopes,)
    unknown = sorted({scope for scope in scopes if scope not in API_SCOPES})
    if unknown or not scopes:
        found = f"unknown scope(s) {', '.join(map(repr, unknown))}" if unknown else "no scope"
        raise ValidationFailedError(
            f"{found}; an API key needs one or more of: {', '.join(API_SCOPES)}",
            details={"valid_scopes": list(API_SCOPES)},
        )
    wanted = set(scopes)
    return tuple(scope for scope in API_SCOPES if scope in wanted)  # canonical order, no repeats


def create_api_key(
    store: AccessStore,
    *,
    name: str,
    scopes: Sequence[str],
    rate_limit: float | None = None,
) -> tuple[ApiKeyRecord, str]:
    """Create and store a key; returns its record and the token, which is never stored and
    cannot be shown again.

    ``scopes`` is a subset of :data:`~shopsense.core.settings.API_SCOPES`; ``rate_limit``
    is requests per second (None: the server's ``serve.rate_limit``). Bad input is a
    :class:`~shopsense.core.errors.ValidationFailedError`."""
    name = name.strip()
    if not name:
        raise ValidationFailedError(
            "an API key needs a name that says who uses it, e.g. 'webshop-backend'"
        )
    valid_scopes = _validated_scopes(scopes)
    if rate_limit is not None and not (math.isfinite(rate_limit) and rate_limit >= MIN_RATE):
        raise ValidationFailedError(
            f"rate limit {rate_limit} must be at least {MIN_RATE} requests per second "
            "(leave it out for the server's default)"
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        key_id=key_id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=valid_scopes,
        rate_limit=rate_limit,
        created_at=utc_now(),
    )
    store.add_api_key(record)
    return record, f"{TOKEN_PREFIX}_{key_id}_{secret}"


def authorize(record: ApiKeyRecord, scope: str) -> None:
    """Nothing when ``record`` holds ``scope`` (or ``admin``); else a
    :class:`~shopsense.core.errors.PermissionDeniedError` naming what is needed and held."""
    if scope in record.scopes or ADMIN_SCOPE in record.scopes:
        return
    raise PermissionDeniedError(
        f"this request needs an API key with scope {scope!r} (or 'admin'); "
        f"key {record.key_id} has {', '.join(map(repr, record.scopes)) or 'no scope'}",
        details={"required_scope": scope, "key_scopes": list(record.scopes)},
    )


class KeyRing:
    """Checks tokens against the stored keys, with a cache so that a request does not read
    the store each time.

    Records are cached for ``cache_seconds``, so that a key revoked by another process is
    refused within that time; :meth:`forget` and :meth:`remember` make changes made in
    this process take effect at once. Unknown ``key_id`` values are cached for
    ``unknown_cache_seconds`` (at most ``max_unknown`` of them), so that a flood of
    made-up tokens does not become a flood of store reads. Thread-safe: FastAPI runs sync
    dependencies in a thread pool."""

    def __init__(
        self,
        store: AccessStore,
        settings: ServeSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = 60.0,
        unknown_cache_seconds: float = 5.0,
        max_unknown: int = 10_000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.cache_seconds = cache_seconds
        self.unknown_cache_seconds = unknown_cache_seconds
        self.max_unknown = max_unknown
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[ApiKeyRecord, float]] = {}  # key_id -> (record, expiry)
        self._unknown: dict[str, float] = {}  # key_id -> expiry
        # bumped by forget/remember: a store read that started before must not be cached
        self._generation = 0

    def authenticate(self, token: str | None) -> ApiKeyRecord:
        """The active key that ``token`` proves, or an
        :class:`~shopsense.core.errors.AuthenticationError` saying why not."""
        if token is None or not token.strip():
            raise AuthenticationError(
                "no API key; send 'Authorization: Bearer <token>' or 'X-API-Key: <token>' "
                "with a token from 'shopsense keys create'"
            )
        key_id, secret = parse_token(token)
        record = self._lookup(key_id)
        # Unknown key and wrong secret read the same, so that the answer does not tell
        # which key_ids exist; compare_digest keeps the comparison constant-time.
        if record is None or not hmac.compare_digest(hash_secret(secret), record.secret_hash):
            raise AuthenticationError(
                f"API key {key_id} is not valid; check that the whole token was copied"
            )
        if not record.active:
            assert record.revoked_at is not None
            raise AuthenticationError(
                f"API key {key_id} was revoked on {record.revoked_at:%Y-%m-%d %H:%M} UTC; "
                "create a new one with 'shopsense keys create'"
            )
        return record

    def rate_limit_of(self, record: ApiKeyRecord) -> float:
        """Requests per second allowed to ``record``: its own limit or the server's."""
        return self.settings.rate_limit if record.rate_limit is None else record.rate_limit

    def remember(self, record: ApiKeyRecord) -> None:
        """Cache ``record`` now (a key just created or changed in this process)."""
        with self._lock:
            self._generation += 1
            self._unknown.pop(record.key_id, None)
            self._known[record.key_id] = (record, self._clock() + self.cache_seconds)

    def forget(self, key_id: str) -> None:
        """Drop what is cached about ``key_id``, so that the next request reads the store
        (call it after revoking a key)."""
        with self._lock:
            self._generation += 1
            self._known.pop(key_id, None)
            self._unknown.pop(key_id, None)

    def _lookup(self, key_id: str) -> ApiKeyRecord | None:
        now = self._clock()
        with self._lock:
            cached = self._known.get(key_id)
            if cached is not None and cached[1] > now:
                return cached[0]
            if self._unknown.get(key_id, -math.inf) > now:
                return None
            generation = self._generation
        # the store read happens outside the lock so that a slow read blocks no other key
        try:
            record: ApiKeyRecord | None = self.store.get_api_key(key_id)
        except NotFoundError:
            record = None
        with self._lock:
            if generation == self._generation:
                if record is None:
                    self._remember_unknown(key_id, now)
                else:
                    self._known[key_id] = (record, now + self.cache_seconds)
        return record

    def _remember_unknown(self, key_id: str, now: float) -> None:
        if len(self._unknown) >= self.max_unknown:
            self._unknown = {k: until for k, until in self._unknown.items() if until > now}
            if len(self._unknown) >= self.max_unknown:
                self._unknown.clear()
        self._unknown[key_id] = now + self.unknown_cache_seconds


# -- rate limits ---------------------------------------------------------------------------


class RateLimitState(NamedTuple):
    """A key's bucket after a request, for the ``RateLimit-*`` response headers."""

    limit: int
    """Requests the full bucket holds (the burst)."""
    remaining: int
    """Requests that may be sent now."""
    reset_seconds: int
    """Seconds until the bucket is full again."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: it refills at ``rate`` tokens per second up to
    ``rate * settings.rate_burst`` (at least 1), and each request takes one token.

    In memory and per process: with several server processes each one limits on its own.
    Thread-safe; ``clock`` is injectable for tests."""

    def __init__(
        self, settings: ServeSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def capacity(self, rate: float) -> float:
        """Tokens a full bucket holds at ``rate``; never below one, or a slow key whose
        ``rate * burst`` is under 1 could never send anything."""
        return max(1.0, rate * self.settings.rate_burst)

    def check(self, key_id: str, rate: float) -> RateLimitState:
        """Take one token from ``key_id``'s bucket, or raise
        :class:`~shopsense.core.errors.RateLimitedError` with ``retry_after``: the seconds
        until a token is there."""
        with self._lock:
            bucket = self._refilled(key_id, rate)
            if bucket.tokens < 1.0:
                retry_after = (1.0 - bucket.tokens) / rate
                raise RateLimitedError(
                    f"API key {key_id} sent more than its rate limit of {rate:g} requests "
                    f"per second (bursts up to {math.floor(self.capacity(rate))}); "
                    f"retry in {retry_after:.2f} s",
                    retry_after=retry_after,
                    details={"rate_limit": rate, "retry_after": retry_after},
                )
            bucket.tokens -= 1.0
            return self._state(bucket, rate)

    def state(self, key_id: str, rate: float) -> RateLimitState:
        """``key_id``'s bucket now, without taking a token."""
        with self._lock:
            return self._state(self._refilled(key_id, rate), rate)

    def _refilled(self, key_id: str, rate: float) -> _Bucket:
        now = self._clock()
        capacity = self.capacity(rate)
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(tokens=capacity, updated=now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.updated = now
        return bucket

    def _state(self, bucket: _Bucket, rate: float) -> RateLimitState:
        capacity = self.capacity(rate)
        return RateLimitState(
            limit=math.floor(capacity),
            remaining=math.floor(bucket.tokens),
            reset_seconds=math.ceil((capacity - bucket.tokens) / rate),
        )


def rate_limit_headers(state: RateLimitState) -> dict[str, str]:
    """``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (IETF draft
    "RateLimit header fields for HTTP") for a :class:`RateLimitState`."""
    return {
        "RateLimit-Limit": str(state.limit),
        "RateLimit-Remaining": str(state.remaining),
        "RateLimit-Reset": str(state.reset_seconds),
    }


# -- the FastAPI dependency ----------------------------------------------------------------

# Both schemes are declared so that /docs offers both; auto_error=False because a missing
# key must be our AuthenticationError (problem+json), not FastAPI's own 401/403.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="An API key as 'Authorization: Bearer ss_<key id>_<secret>'.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyHeader",
    description="An API key as 'X-API-Key: ss_<key id>_<secret>'.",
)

_T = TypeVar("_T")


def _app_state(request: Request, name: str, kind: type[_T]) -> _T:
    value = getattr(request.app.state, name, None)
    if not isinstance(value, kind):
        raise ConfigurationError(
            f"app.state.{name} must be a {kind.__name__}; create_app sets settings, "
            "keyring and rate_limiter"
        )
    return value


AuthDependency = Callable[
    [Request, Response, HTTPAuthorizationCredentials | None, str | None],
    Awaitable[ApiKeyRecord | None],
]


def require(scope: str) -> AuthDependency:
    """A FastAPI dependency for routes that need ``scope``: authenticate, authorize and
    rate-limit the request's key; returns its record (also on ``request.state.api_key``)
    and sets the ``RateLimit-*`` headers. Returns None (and sets None there), checking
    nothing, when ``settings.serve.require_api_keys`` is off."""
    if scope not in API_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {API_SCOPES}")

    # A coroutine: a plain function would cost every request a hop to the thread pool.
    # Nothing here blocks but the rare store read of a key not cached yet.
    async def dependency(
        request: Request,
        response: Response,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> ApiKeyRecord | None:
        settings = _app_state(request, "settings", Settings)
        if not settings.serve.require_api_keys:
            request.state.api_key = None  # so that later code may read it either way
            return None
        keyring = _app_state(request, "keyring", KeyRing)
        rate_limiter = _app_state(request, "rate_limiter", RateLimiter)
        token = bearer.credentials if bearer is not None else api_key
        if token is None and "authorization" in request.headers:
            raise AuthenticationError(
                "the Authorization header must read 'Bearer <token>' (or send 'X-API-Key: <token>')"
            )
        record = keyring.authenticate(token)
        authorize(record, scope)
        request.state.api_key = record
        state = rate_limiter.check(record.key_id, keyring.rate_limit_of(record))
        response.headers.update(rate_limit_headers(state))
        return record

    dependency.__name__ = f"require_{scope}"
    return dependency


ReadKey = Annotated[ApiKeyRecord | None, Depends(require("read"))]
"""A route parameter that requires the ``read`` scope."""
IngestKey = Annotated[ApiKeyRecord | None, Depends(require("ingest"))]
"""A route parameter that requires the ``ingest`` scope."""
AdminKey = Annotated[ApiKeyRecord | None, Depends(require("admin"))]
"""A route parameter that requires the ``admin`` scope."""


# -- request size --------------------------------------------------------------------------


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 problem+json.

    A declared ``Content-Length`` over the limit is refused before anything is read; a body
    without one (chunked) is counted as it streams and reading stops at the limit. A pure
    ASGI middleware, because ``BaseHTTPMiddleware`` costs every request a task and a copy.
    (Starlette's own ``RequestBodyLimitMiddleware`` answers in plain text.)"""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, f"the request body ({declared:,} bytes) is")
            return

        received = 0
        exceeded = False
        started = False  # a response start went out
        replaced = False  # ... and it was our 413, so the app's own answer is dropped

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise PayloadTooLargeError(self._message("the request body is"))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise PayloadTooLargeError(self._message("the request body is"))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if exceeded and not started:
                    # The app answered the error from counting_receive its own way (FastAPI
                    # turns errors while reading a body into a 400): answer 413 instead.
                    started = replaced = True
                    await self._refuse(send, "the request body is")
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
            await self._refuse(send, "the request body is")

    def _message(self, subject: str) -> str:
        return (
            f"{subject} larger than the {self.max_bytes:,} bytes this server accepts "
            "(serve.max_request_bytes); send it in smaller batches"
        )

    async def _refuse(self, send: Send, subject: str) -> None:
        problem: dict[str, Any] = {
            "type": "about:blank",
            **PayloadTooLargeError(self._message(subject)).to_problem(),
        }
        body = json.dumps(problem).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": PayloadTooLargeError.http_status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:  # the server rejects it; here it only means "not declared"
        return None
