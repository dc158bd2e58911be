"""What an A/B experiment is: variants with weights on one scenario, a primary metric and
guardrails; and who sees which variant.

Assignment is deterministic: a user's variant is a function of the experiment's salt
and their ``user_id`` alone (SHA-256 of ``"<salt>:<user_id>"`` read as a number in
[0, 1), placed on the variants' cumulative weights). The same user gets the same
variant on every request, in every session and on every server process, with nothing
stored; a new experiment has a new salt, so assignments of two experiments are
independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shopsense.core.errors import ValidationFailedError
from shopsense.core.ids import new_id, utc_now
from shopsense.store.base import ExperimentRecord

Status = Literal["draft", "running", "stopped"]
Scenario = Literal["home", "item", "cart", "buy-again"]
"""Scenarios served to a known user: the unit an experiment assigns and measures."""
MetricName = Literal[
    "conversion",
    "revenue_per_user",
    "rec_ctr",
    "retention_7d",
    "active_days",
    "returns_per_user",
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w\-. ]+$"),
]


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """How a metric is measured per exposed user, from their first exposure on."""

    kind: Literal["proportion", "mean", "ratio"]
    description: str
    higher_is_better: bool = True


METRICS: dict[str, MetricDefinition] = {
    "conversion": MetricDefinition("proportion", "share of users who bought after exposure"),
    "revenue_per_user": MetricDefinition("mean", "purchase value per user after exposure"),
    "rec_ctr": MetricDefinition(
        "ratio", "clicked lists / lists served to the experiment's users (delta method)"
    ),
    "retention_7d": MetricDefinition(
        "proportion", "share of users active again on days 1 to 7 after their first exposure"
    ),
    "active_days": MetricDefinition("mean", "days with activity per user after exposure"),
    "returns_per_user": MetricDefinition(
        "mean", "return events per user after exposure", higher_is_better=False
    ),
}
"""Every metric an experiment may name, with how it is tested (see docs/statistics.md)."""


DEFAULT_GUARDRAILS: tuple[MetricName, ...] = ("revenue_per_user", "returns_per_user")
"""Guardrails of an experiment that names none (less its primary metric)."""
DEFAULT_OBSERVATION_DAYS = 14


class VariantSpec(BaseModel):
    """One arm: its name, its share of traffic and what serves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    weight: float = Field(default=1.0, gt=0, description="Relative share of the users.")
    model: str | None = Field(
        default=None,
        description="The registered model serving the scenario for this arm (e.g. "
        "'popular', 'als', 'best'); None: the scenario's configured model.",
    )


class ExperimentSpec(BaseModel):
    """What a shop asks for when it creates an experiment. The first variant is the
    control the others are compared with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str = Field(default="", max_length=2000)
    scenario: Scenario = Field(description="The recommendation scenario the variants serve.")
    variants: list[VariantSpec] = Field(min_length=2, max_length=10)
    primary_metric: MetricName = "conversion"
    guardrails: list[MetricName] = Field(
        default_factory=list,
        description="Metrics that must not get significantly worse (default: "
        "revenue_per_user and returns_per_user, less the primary metric).",
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="Significance level.")
    observation_days: int = Field(
        default=DEFAULT_OBSERVATION_DAYS,
        ge=1,
        le=365,
        description="Each user is measured over this many days from their first exposure; "
        "only users whose days are complete count, so a user's values never change once "
        "counted (what keeps the always-valid p-values valid however often you look).",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_guardrails(cls, data: Any) -> Any:
        if isinstance(data, dict) and "guardrails" not in data:
            primary = data.get("primary_metric", "conversion")
            data = {**data, "guardrails": [m for m in DEFAULT_GUARDRAILS if m != primary]}
        return data

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must differ, got {names}")
        if self.primary_metric in self.guardrails:
            raise ValueError(f"{self.primary_metric} is the primary metric; not also a guardrail")
        if len(set(self.guardrails)) != len(self.guardrails):
            raise ValueError(f"guardrails repeat a metric: {self.guardrails}")
        return self


class Experiment(BaseModel):
    """An experiment with its identity and where it is in its life."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experiment_id: str
    salt: str
    spec: ExperimentSpec
    status: Status = "draft"
    created_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @classmethod
    def create(cls, spec: ExperimentSpec, *, now: datetime | None = None) -> Experiment:
        return cls(experiment_id=new_id(), salt=new_id(), spec=spec, created_at=now or utc_now())

    @property
    def control(self) -> VariantSpec:
        return self.spec.variants[0]

    def assign(self, user_id: str) -> VariantSpec:
        """The user's variant (see the module docstring)."""
        return self.spec.variants[
            assign(self.salt, user_id, [v.weight for v in self.spec.variants])
        ]

    def started(self, now: datetime | None = None) -> Experiment:
        if self.status != "draft":
            raise ValidationFailedError(
                f"experiment {self.experiment_id} is {self.status}; only a draft can start"
            )
        return self.model_copy(update={"status": "running", "started_at": now or utc_now()})

    def stopped(self, now: datetime | None = None) -> Experiment:
        if self.status != "running":
            raise ValidationFailedError(
                f"experiment {self.experiment_id} is {self.status}; only a running one can stop"
            )
        return self.model_copy(update={"status": "stopped", "stopped_at": now or utc_now()})

    def to_record(self) -> ExperimentRecord:
        return ExperimentRecord(
            experiment_id=self.experiment_id,
            name=self.spec.name,
            definition={"salt": self.salt, **self.spec.model_dump(mode="json")},
            status=self.status,
            created_at=self.created_at,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
        )

    @classmethod
    def from_record(cls, record: ExperimentRecord) -> Experiment:
        definition = dict(record.definition)
        salt = str(definition.pop("salt"))
        return cls(
            experiment_id=record.experiment_id,
            salt=salt,
            spec=ExperimentSpec.model_validate(definition),
            status=record.status,
            created_at=record.created_at,
            started_at=record.started_at,
            stopped_at=record.stopped_at,
        )


def unit_interval(salt: str, user_id: str) -> float:
    """``"<salt>:<user_id>"`` hashed to a number in [0, 1) (53 bits of SHA-256)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)


def assign(salt: str, user_id: str, weights: Sequence[float]) -> int:
    """The index of the user's variant under ``weights`` (relative, positive)."""
    total = float(sum(weights))
    point = unit_interval(salt, user_id) * total
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += weight
        if point < cumulative:
            return index
    return len(weights) - 1  # float rounding at the very top


__all__ = [
    "METRICS",
    "Experiment",
    "ExperimentSpec",
    "MetricDefinition",
    "MetricName",
    "Scenario",
    "Status",
    "VariantSpec",
    "assign",
    "unit_interval",
]
