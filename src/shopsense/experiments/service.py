"""The experiments a shop runs: create, start, stop, read the results.

At most one experiment runs per scenario at a time (two would split the same lists and
their users' metrics would mix). A variant may name the registered model that serves it;
starting checks that the model exists, so a typo fails at once, not in serving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shopsense.core.errors import ValidationFailedError
from shopsense.core.ids import utc_now
from shopsense.experiments.design import Experiment, ExperimentSpec
from shopsense.experiments.results import ExperimentResults, analyse
from shopsense.store.base import Store


class ExperimentService:
    """Experiments in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, spec: ExperimentSpec, *, now: datetime | None = None) -> Experiment:
        """A new draft: nobody is assigned until it starts."""
        experiment = Experiment.create(spec, now=now)
        self.store.save_experiment(experiment.to_record())
        return experiment

    def get(self, experiment_id: str) -> Experiment:
        return Experiment.from_record(self.store.get_experiment(experiment_id))

    def list(self) -> list[Experiment]:
        return [Experiment.from_record(record) for record in self.store.list_experiments()]

    def running(self) -> dict[str, Experiment]:
        """The running experiment of each scenario."""
        return {e.spec.scenario: e for e in self.list() if e.status == "running"}

    def start(self, experiment_id: str, *, now: datetime | None = None) -> Experiment:
        experiment = self.get(experiment_id)
        busy = self.running().get(experiment.spec.scenario)
        if busy is not None and busy.experiment_id != experiment_id:
            raise ValidationFailedError(
                f"experiment {busy.experiment_id} ({busy.spec.name!r}) already runs on "
                f"scenario {experiment.spec.scenario!r}; stop it first"
            )
        serving = {version.name for version in self.store.list_models() if version.serving}
        for variant in experiment.spec.variants:
            if variant.model is not None and variant.model not in serving:
                known = ", ".join(sorted(serving)) or "none yet: run `shopsense train`"
                raise ValidationFailedError(
                    f"variant {variant.name!r} names model {variant.model!r}, which has no "
                    f"serving version; models in service: {known}"
                )
        started = experiment.started(now)
        self.store.save_experiment(started.to_record())
        return started

    def stop(self, experiment_id: str, *, now: datetime | None = None) -> Experiment:
        stopped = self.get(experiment_id).stopped(now)
        self.store.save_experiment(stopped.to_record())
        return stopped

    def results(
        self,
        experiment_id: str,
        *,
        end: datetime | None = None,
        now: datetime | None = None,
        attribution_window: timedelta = timedelta(hours=24),
    ) -> ExperimentResults:
        """The results up to ``end``: by default when it stopped, else ``now`` (the
        wall clock unless the caller keeps another, as a replay does)."""
        if end is not None and end.tzinfo is None:
            raise ValidationFailedError(
                "end has no time zone; give it with an offset, e.g. 2024-06-01T00:00:00Z"
            )
        experiment = self.get(experiment_id)
        if experiment.status == "draft":
            raise ValidationFailedError(
                f"experiment {experiment_id} has not started; start it to collect data"
            )
        until = end or experiment.stopped_at or now or utc_now()
        return analyse(self.store, experiment, end=until, attribution_window=attribution_window)


__all__ = ["ExperimentService"]
