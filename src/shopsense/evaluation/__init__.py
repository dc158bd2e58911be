"""Offline evaluation: the benchmark protocols (splits), ranking metrics and the runner."""

from shopsense.evaluation.metrics import score
from shopsense.evaluation.protocols import PROTOCOLS, Split, load_split
from shopsense.evaluation.runner import EvaluationResult, evaluate, read_recommendations

__all__ = [
    "PROTOCOLS",
    "EvaluationResult",
    "Split",
    "evaluate",
    "load_split",
    "read_recommendations",
    "score",
]
