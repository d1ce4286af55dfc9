"""Native names of an evaluation dataset's classes: each class that is a catalogue concept, named in another
language (a dataset spec's `names`), for the native-name evaluation (task native_names)."""

from cultureclip.catalog import ConceptSketch, load_catalog
from cultureclip.config import CatalogConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.datasets.base import EvalDataset, NativeNames


def attach_native_names(data: EvalDataset, language: str, catalog: CatalogConfig) -> None:
    """Set `data.native_names`: each class's name in `language` from the catalogue `catalog`, by concept id
    (None for a class without one); an error when the classes are not concepts or none has such a name."""
    if data.class_ids is None:
        raise ConfigError(f"dataset {data.name}: names needs classes that are catalogue concepts (kind shards)")
    concepts = load_catalog(catalog.path, catalog.mode, ConceptSketch, catalog.categories).by_id
    names = [concepts[i].name_in(language) if i in concepts else None for i in data.class_ids]
    if not any(names):
        source = catalog.path or "the shipped catalogue"
        raise DataError(
            f"dataset {data.name}: none of its {len(names)} concepts has a name in {language!r} in {source} (names)"
        )
    data.native_names = NativeNames(language, names)
