"""The cultural concept catalogue: schema, shipped data, loading and validation."""

from cultureclip.catalog.load import Catalog, load_catalog
from cultureclip.catalog.schema import Concept

__all__ = ["Catalog", "Concept", "load_catalog"]
