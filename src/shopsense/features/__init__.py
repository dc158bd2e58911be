"""Features computed from the store: interaction matrices and sequences (more to come)."""

from shopsense.features.interactions import Interactions

__all__ = ["Interactions"]
