"""Features computed from the store: interaction matrices and sequences, item attributes."""

from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions

__all__ = ["Interactions", "ItemCatalog"]
