"""The training pipeline: train, evaluate and register every configured model."""

from shopsense.training.recommenders import (
    BEST_MODEL,
    Selection,
    TrainedModel,
    TrainingRun,
    data_fingerprint,
    model_params,
    select_best,
    train_models,
)

__all__ = [
    "BEST_MODEL",
    "Selection",
    "TrainedModel",
    "TrainingRun",
    "data_fingerprint",
    "model_params",
    "select_best",
    "train_models",
]
