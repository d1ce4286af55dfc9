"""Counts that summarise a catalogue (`cultureclip catalog stats`)."""

import json

from cultureclip.catalog.load import Catalog


def mined_groups_on_disk(catalog: Catalog) -> list[dict]:
    """Mined (not curated) groups in the catalogue's twin-groups file whose members all still exist."""
    path = catalog.twin_groups_file
    if path is None or not path.is_file():
        return []
    groups = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [g for g in groups if not g["curated"] and all(m in catalog.by_id for m in g["members"])]


def catalog_stats(catalog: Catalog) -> dict[str, int]:
    """Concepts, cultures, categories, twin groups (curated + mined on disk), curated twin groups, and the
    concepts' names in their own languages and how many languages those are."""
    concepts = catalog.concepts
    return {
        "concepts": len(concepts),
        "cultures": len({c.culture for c in concepts}),
        "categories": len({c.category for c in concepts}),
        "twin_groups": len(catalog.groups) + len(mined_groups_on_disk(catalog)),
        "curated_twin_groups": len(catalog.groups),
        "native_names": sum(len(c.names) for c in concepts),
        "name_languages": len({language for c in concepts for language in c.names}),
    }
