"""Settings: one pydantic-settings class, read from the environment and ``shopsense.toml``.

Precedence, highest first: keyword arguments, ``SHOPSENSE_*`` environment variables,
the TOML file (``SHOPSENSE_CONFIG`` or ``./shopsense.toml`` when present), defaults.
Nested fields use ``__`` in environment names, e.g. ``SHOPSENSE_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from shopsense.core.errors import ConfigurationError, describe_validation_error

DEFAULT_EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "return",
    "rating",
    "search",
    "impression",
)
"""The event types shopsense knows out of the box (see ``docs/data-model.md``)."""

DEFAULT_ITEM_EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "return",
    "rating",
)
"""Event types that are about one item, so ``item_id`` is required for them."""


DEFAULT_RECOMMENDERS: tuple[str, ...] = (
    "popular",
    "item-knn",
    "ease",
    "als",
    "top-frequency",
    "bought-together",
    "ltr",
)
"""The recommenders trained by default: fast on a CPU, strong baselines, the basket
associations that serve the cart, and the re-ranker over them (usually the best)."""


SCENARIOS: tuple[str, ...] = ("home", "item", "cart", "buy-again", "session")
"""The recommendation scenarios the API serves (see ``docs/api.md``)."""

API_SCOPES: tuple[str, ...] = ("ingest", "read", "admin")
"""What an API key may do: send data, read recommendations and profiles, administer
(train, keys, erasure). ``admin`` includes the other two."""


class AttributeRule(BaseModel):
    """Boost (``factor`` > 1) or bury (``factor`` < 1) items whose ``field`` equals
    ``value``: ``brand``, ``category`` (any level of the path), or an attribute name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, description="brand, category or an attribute name")
    value: str | float | bool = Field(description="the value to match")
    factor: float = Field(gt=0, description="score multiplier: > 1 boosts, < 1 buries")


class BusinessRules(BaseModel):
    """Rules applied to every recommendation list (a request may add its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exclude_purchased: bool = Field(
        default=True, description="Never recommend what the user bought (except buy-again)."
    )
    max_per_category: int | None = Field(
        default=None, ge=1, description="At most this many items of one top category."
    )
    max_per_brand: int | None = Field(
        default=None, ge=1, description="At most this many items of one brand."
    )
    boost: tuple[AttributeRule, ...] = Field(
        default=(), description="Boost or bury items by attribute."
    )
    pinned: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Items always shown first in a scenario, e.g. {'home': ['I1']}.",
    )


class ServeSettings(BaseModel):
    """The API server (``shopsense serve``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on.")
    require_api_keys: bool = Field(
        default=True, description="Every /v1 call needs an API key (except health)."
    )
    cors_origins: tuple[str, ...] = Field(
        default=(), description="Origins allowed to call the API from a browser ('*': any)."
    )
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest request body accepted."
    )
    max_batch: int = Field(
        default=10_000, ge=1, description="Most events (or items, users, orders) per request."
    )
    rate_limit: float = Field(
        default=1000.0,
        ge=0.001,
        description="Requests per second per API key, unless the key sets one.",
    )
    rate_burst: float = Field(
        default=2.0, ge=1, description="Bucket size as seconds of rate: bursts up to rate x burst."
    )
    history_length: int = Field(
        default=100, ge=1, description="Recent item events kept per user for live scoring."
    )
    history_event_types: tuple[str, ...] = Field(
        default=("view", "click", "add_to_cart", "purchase"),
        description="Event types that make up the live history models score from.",
    )
    models: dict[str, str] = Field(
        default_factory=lambda: {
            "home": "best",
            "item": "best",
            "session": "best",
            "similar": "item-knn",
            "cart": "bought-together",
            "buy-again": "top-frequency",
            "fallback": "popular",
        },
        description="The registered model serving each scenario ('best': the winner of "
        "the last training run; 'fallback' serves users the others cannot).",
    )
    latency_budget_ms: float | None = Field(
        default=2.5,
        gt=0,
        description="Median time one personal list may take to score (measured on live "
        "histories when models load). 'best' over budget serves the next best model "
        "that fits; None: no budget. 2.5 ms holds 200 requests/s on one core.",
    )
    trending_days: float = Field(
        default=7.0, gt=0, description="The window of 'popular this week' and trending."
    )
    retrain_every_hours: float | None = Field(
        default=24.0, gt=0, description="Retrain in the background this often; None: never."
    )
    rules: BusinessRules = Field(default_factory=BusinessRules)

    @field_validator("retrain_every_hours", "latency_budget_ms", mode="before")
    @classmethod
    def _never(cls, value: Any) -> Any:
        """``never`` (or off, none, null, empty) switches the option off, so that an
        environment variable can say it."""
        if isinstance(value, str) and value.strip().lower() in ("", "never", "off", "none", "null"):
            return None
        return value


class CustomerSettings(BaseModel):
    """Customer intelligence: the churn window, value horizons and who is "at risk"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_days: int = Field(
        default=90,
        ge=7,
        le=730,
        description="Churn means no purchase in this many days; spend is predicted over it.",
    )
    long_horizon_days: int = Field(
        default=365, ge=30, le=3650, description="The horizon of the long CLV (discounted)."
    )
    discount_rate: float = Field(
        default=0.1, ge=0, le=1, description="Annual discount rate of future spend in CLV."
    )
    at_risk_probability: float = Field(
        default=0.5, gt=0, lt=1, description="Churn probability from which a customer is at risk."
    )
    valuable_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="The top share of customers by annual value that counts as valuable.",
    )
    win_back_items: int = Field(
        default=5, ge=1, le=50, description="Items in a valuable at-risk customer's win-back list."
    )


class AnalyticsSettings(BaseModel):
    """Engagement analytics: the shop's calendar and the attribution rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(
        default="UTC",
        description="IANA time zone whose days, weeks and months the analytics count in, "
        "e.g. 'Europe/London'.",
    )
    default_days: int = Field(
        default=90, ge=1, le=3660, description="Days a query covers when it names no start."
    )
    attribution_window_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 90,
        description="How long after a list is served (or clicked) a click or purchase "
        "is credited to it.",
    )
    conversion_window_days: float = Field(
        default=14.0, gt=0, le=365, description="A funnel's default conversion window."
    )


def _config_file() -> Path:
    return Path(os.environ.get("SHOPSENSE_CONFIG", "shopsense.toml"))


class Settings(BaseSettings):
    """Everything configurable in shopsense, with its default."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPSENSE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("shopsense-data"),
        description="Directory that holds the embedded store and model artifacts.",
    )
    store_url: str | None = Field(
        default=None,
        description=(
            "Where the store lives, e.g. 'duckdb:///path/shop.duckdb'. "
            "Default: 'duckdb://<data_dir>/shopsense.duckdb'."
        ),
    )
    event_types: tuple[str, ...] = Field(
        default=DEFAULT_EVENT_TYPES,
        description="Event types accepted at ingest; extend to add a shop's own.",
    )
    item_event_types: tuple[str, ...] = Field(
        default=DEFAULT_ITEM_EVENT_TYPES,
        description="Event types that must name an item.",
    )
    naive_timestamps: Literal["reject", "utc"] = Field(
        default="reject",
        description=(
            "What to do with a timestamp that has no time zone: 'reject' it with an error, "
            "or read it as UTC. Importers of files with local times take a --timezone."
        ),
    )
    ingest_batch_size: int = Field(
        default=50_000, ge=1, description="Rows per committed transaction during import."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    recommenders: tuple[str, ...] = Field(
        default=DEFAULT_RECOMMENDERS,
        description="The recommenders 'shopsense train' trains, evaluates and registers.",
    )
    recommender_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Hyper-parameters per recommender, e.g. {'ease': {'l2': 200}}; they win over "
            "a tuning result found in tuned_params_dir."
        ),
    )
    tuned_params_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of 'shopsense tune' results named <recommender>.json; their "
            "best_params are used when training that recommender."
        ),
    )
    training_event_types: tuple[str, ...] = Field(
        default=("purchase",),
        description="Event types that models are trained on; empty: every item event.",
    )
    serve: ServeSettings = Field(default_factory=ServeSettings)
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)

    @field_validator("event_types", "item_event_types", "training_event_types")
    @classmethod
    def _non_empty_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"event type {name!r} must be letters, digits, '_' or '-'")
        return value

    @property
    def resolved_store_url(self) -> str:
        """The store URL, with the embedded DuckDB file under ``data_dir`` as default."""
        if self.store_url:
            return self.store_url
        return f"duckdb://{(self.data_dir / 'shopsense.duckdb').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_source = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml_source)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the sources above with ``overrides`` on top; anything invalid or
    unreadable is a :class:`~shopsense.core.errors.ConfigurationError` saying what."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(
            "bad settings (options, SHOPSENSE_* variables or the TOML file): "
            f"{describe_validation_error(error)}"
        ) from None
    except (SettingsError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(
            f"cannot read the settings: {error}; check the SHOPSENSE_* variables and the TOML file"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once on first use (never at import)."""
    return load_settings()
