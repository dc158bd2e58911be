"""A/B experiments: create, start, stop, list, and read the results with their verdict.

Starting or stopping one reloads the serving models with the experiment's variants, so
the next list of the scenario is assigned (deterministically, by user) and exposes its
user to the variant."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments.design import Experiment, ExperimentSpec
from shopsense.experiments.results import ExperimentResults
from shopsense.experiments.service import ExperimentService
from shopsense.serve.deps import Server
from shopsense.serve.security import AdminKey, ReadKey
from shopsense.serve.state import ServerState

router = APIRouter(prefix="/experiments", tags=["experiments"])


def _service(server: ServerState) -> ExperimentService:
    return ExperimentService(server.store)


@router.post("", response_model=Experiment, status_code=201, summary="Create an experiment")
async def create(spec: ExperimentSpec, server: Server, key: AdminKey) -> Experiment:
    """A draft: variants (the first is the control) with weights and, optionally, the
    registered model serving each; the scenario; the primary metric and guardrails."""
    return await asyncio.to_thread(_service(server).create, spec)


@router.get("", response_model=list[Experiment], summary="Every experiment")
async def list_experiments(server: Server, key: ReadKey) -> list[Experiment]:
    return await asyncio.to_thread(_service(server).list)


@router.get("/{experiment_id}", response_model=Experiment, summary="One experiment")
async def get(experiment_id: str, server: Server, key: ReadKey) -> Experiment:
    return await asyncio.to_thread(_service(server).get, experiment_id)


def change_experiment(
    server: ServerState, change: Literal["start", "stop"], experiment_id: str
) -> Experiment:
    """Start or stop, and reload serving, as one step: no retrain's reload can swap in
    models read before the change, and two starts cannot both pass the "one running
    experiment per scenario" check. Blocks (the store, the reload): call it in a thread.
    The API and the dashboard both change experiments through here."""
    service = _service(server)
    with server.reload_lock:
        before = service.get(experiment_id)
        if change == "start":
            experiment = service.start(experiment_id, now=server.clock())
        else:
            experiment = service.stop(experiment_id, now=server.clock())
        server.served.flush()  # lists of the old assignment are logged under it
        server.reload_models()
        problem = server.experiment_problems.get(experiment_id)
        if problem is not None:
            server.store.save_experiment(before.to_record())  # back to the draft
            raise ValidationFailedError(f"experiment {experiment_id} cannot start: {problem}")
    return experiment


def experiment_results(
    server: ServerState, experiment_id: str, end: datetime | None = None
) -> ExperimentResults:
    """The results up to ``end`` (default: the stop, else the server's clock), with the
    server's attribution window. Blocks: call it in a thread."""
    window = timedelta(hours=server.settings.analytics.attribution_window_hours)
    return _service(server).results(
        experiment_id, end=end, now=server.clock(), attribution_window=window
    )


@router.post("/{experiment_id}/start", response_model=Experiment, summary="Start it")
async def start(experiment_id: str, server: Server, key: AdminKey) -> Experiment:
    """Serve its variants from now on (one running experiment per scenario)."""
    return await asyncio.to_thread(change_experiment, server, "start", experiment_id)


@router.post("/{experiment_id}/stop", response_model=Experiment, summary="Stop it")
async def stop(experiment_id: str, server: Server, key: AdminKey) -> Experiment:
    """Serve the scenario's own model again; the results count up to the stop."""
    return await asyncio.to_thread(change_experiment, server, "stop", experiment_id)


@router.get(
    "/{experiment_id}/results", response_model=ExperimentResults, summary="Results and verdict"
)
async def results(
    experiment_id: str,
    server: Server,
    key: ReadKey,
    end: Annotated[
        datetime | None, Query(description="Measure up to this instant (default: stop or now).")
    ] = None,
) -> ExperimentResults:
    """Exposed users per variant and the sample-ratio check; per metric and variant the
    means, absolute and relative lift with confidence intervals, p-values (fixed-horizon
    and always-valid, Holm-adjusted), chance to win and expected loss, CUPED's variance
    reduction; and a verdict in plain language. See docs/statistics.md."""
    return await asyncio.to_thread(experiment_results, server, experiment_id, end)


__all__ = ["change_experiment", "experiment_results", "router"]
