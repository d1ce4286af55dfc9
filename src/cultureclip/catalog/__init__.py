"""The cultural concept catalogue: schema, shipped data, loading, validation, twin mining, expansion."""

from cultureclip.catalog.load import Catalog, load_catalog
from cultureclip.catalog.schema import Concept, ConceptSketch

__all__ = ["Catalog", "Concept", "ConceptSketch", "load_catalog"]
