"""Versioned schema migrations of the DuckDB store.

Each migration is applied once, in order, inside one transaction together with its row
in ``schema_migrations``; a store whose version is newer than :data:`MIGRATIONS` knows is
refused with :class:`~shopsense.core.errors.SchemaVersionError` instead of being misread.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="events, items, users, orders, order lines, model registry",
        statements=(
            """
            CREATE TABLE events (
                event_id    VARCHAR PRIMARY KEY,
                type        VARCHAR NOT NULL,
                user_id     VARCHAR NOT NULL,
                item_id     VARCHAR,
                ts          TIMESTAMPTZ NOT NULL,
                session_id  VARCHAR,
                quantity    DOUBLE,
                price       DOUBLE,
                value       DOUBLE,
                order_id    VARCHAR,
                rec_id      VARCHAR,
                query       VARCHAR,
                props       JSON,
                ingested_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
            )
            """,
            """
            CREATE TABLE items (
                item_id     VARCHAR PRIMARY KEY,
                title       VARCHAR,
                description VARCHAR,
                category    VARCHAR[],
                brand       VARCHAR,
                price       DOUBLE,
                currency    VARCHAR,
                in_stock    BOOLEAN NOT NULL,
                active      BOOLEAN NOT NULL,
                created_at  TIMESTAMPTZ,
                attributes  JSON,
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
            )
            """,
            """
            CREATE TABLE users (
                user_id     VARCHAR PRIMARY KEY,
                created_at  TIMESTAMPTZ,
                attributes  JSON,
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
            )
            """,
            """
            CREATE TABLE orders (
                order_id    VARCHAR PRIMARY KEY,
                user_id     VARCHAR NOT NULL,
                ts          TIMESTAMPTZ NOT NULL,
                status      VARCHAR NOT NULL,
                currency    VARCHAR,
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
            )
            """,
            """
            CREATE TABLE order_lines (
                order_id    VARCHAR NOT NULL,
                line_no     INTEGER NOT NULL,
                item_id     VARCHAR NOT NULL,
                quantity    DOUBLE NOT NULL,
                price       DOUBLE NOT NULL,
                PRIMARY KEY (order_id, line_no)
            )
            """,
            """
            CREATE TABLE model_versions (
                name             VARCHAR NOT NULL,
                version          INTEGER NOT NULL,
                created_at       TIMESTAMPTZ NOT NULL,
                artifact_uri     VARCHAR NOT NULL,
                params           JSON NOT NULL,
                metrics          JSON NOT NULL,
                data_fingerprint VARCHAR NOT NULL,
                serving          BOOLEAN NOT NULL DEFAULT false,
                PRIMARY KEY (name, version)
            )
            """,
        ),
    ),
    Migration(
        version=2,
        description="API keys (hashed) and the recommendation lists served (for attribution)",
        statements=(
            """
            CREATE TABLE api_keys (
                key_id       VARCHAR PRIMARY KEY,
                name         VARCHAR NOT NULL,
                secret_hash  VARCHAR NOT NULL,
                scopes       VARCHAR[] NOT NULL,
                rate_limit   DOUBLE,
                created_at   TIMESTAMPTZ NOT NULL,
                revoked_at   TIMESTAMPTZ
            )
            """,
            """
            CREATE TABLE served_recommendations (
                rec_id        VARCHAR PRIMARY KEY,
                user_id       VARCHAR,
                scenario      VARCHAR NOT NULL,
                model         VARCHAR NOT NULL,
                model_version INTEGER,
                items         VARCHAR[] NOT NULL,
                ts            TIMESTAMPTZ NOT NULL,
                context       JSON
            )
            """,
        ),
    ),
    Migration(
        version=3,
        description="A/B experiments and the first exposure of each user to one",
        statements=(
            """
            CREATE TABLE experiments (
                experiment_id VARCHAR PRIMARY KEY,
                name          VARCHAR NOT NULL,
                definition    JSON NOT NULL,
                status        VARCHAR NOT NULL,
                created_at    TIMESTAMPTZ NOT NULL,
                started_at    TIMESTAMPTZ,
                stopped_at    TIMESTAMPTZ
            )
            """,
            """
            CREATE TABLE experiment_exposures (
                experiment_id VARCHAR NOT NULL,
                user_id       VARCHAR NOT NULL,
                variant       VARCHAR NOT NULL,
                ts            TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (experiment_id, user_id)
            )
            """,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
