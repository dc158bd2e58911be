"""The training pipeline: train, evaluate and register every configured model."""

from shopsense.training.recommenders import (
    BEST_MODEL,
    TrainedModel,
    TrainingRun,
    data_fingerprint,
    model_params,
    train_models,
)

__all__ = [
    "BEST_MODEL",
    "TrainedModel",
    "TrainingRun",
    "data_fingerprint",
    "model_params",
    "train_models",
]
