"""Load the catalogue: the shipped data files, a user's file, or both; checked on the way in.

The shipped catalogue is one YAML file per category under `cultureclip/catalog/data/`. A user's
file (YAML, JSON lines or CSV) replaces it or extends it (`catalog.mode`); extending never
overwrites a shipped row, since a repeated id is a check error.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from cultureclip.catalog.check import check_rows
from cultureclip.catalog.files import RawRow, read_rows
from cultureclip.catalog.schema import CATEGORIES, Concept, ConceptSketch
from cultureclip.errors import CatalogError

DATA = resources.files("cultureclip") / "catalog" / "data"
TWIN_GROUPS_SUFFIX = ".twin_groups.jsonl"


@dataclass(frozen=True)
class Catalog:
    """Concepts in file order, with their curated twin groups (each group: ids of 2 or more look-alikes)."""

    source: str
    concepts: tuple[ConceptSketch, ...]
    twin_groups_file: Path | None = None
    """Where `catalog twins` writes mined twin groups: next to the catalogue file."""

    @cached_property
    def by_id(self) -> dict[str, ConceptSketch]:
        return {c.id: c for c in self.concepts}

    @cached_property
    def groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for c in self.concepts:
            if c.twin_group is not None:
                groups[c.twin_group].append(c.id)
        return {g: tuple(ids) for g, ids in groups.items()}

    @cached_property
    def links(self) -> dict[str, list[str]]:
        """`twins` links read both ways: links[a] holds b when either row names the other."""
        links: dict[str, list[str]] = defaultdict(list)
        for c in self.concepts:
            for twin in c.twins:
                links[c.id].append(twin)
                links[twin].append(c.id)
        return links

    def twins_of(self, concept_id: str) -> tuple[str, ...]:
        """Curated look-alikes of a concept: its twin group's other members, then its `twins` links."""
        concept = self.by_id[concept_id]
        group = self.groups.get(concept.twin_group, ()) if concept.twin_group else ()
        return tuple(dict.fromkeys(i for i in [*group, *self.links.get(concept_id, [])] if i != concept_id))

    def select_groups(self, names: list[str] | tuple[str, ...]) -> "Catalog":
        """The concepts of the named twin groups, group by group in the order given."""
        missing = [n for n in names if n not in self.groups]
        if missing:
            raise CatalogError(f"{self.source}: no twin group {missing[0]!r} (build.catalog.groups)")
        return Catalog(self.source, tuple(self.by_id[i] for n in names for i in self.groups[n]), self.twin_groups_file)

    def first_groups(self, n: int) -> "Catalog":
        return self.select_groups(list(self.groups)[:n])


def shipped_rows() -> list[RawRow]:
    """Rows of the shipped catalogue: its per-category files in category order."""
    files = [DATA / f"{category}.yaml" for category in CATEGORIES]
    return [row for f in files if f.is_file() for row in read_rows(Path(str(f)), f.read_text(encoding="utf-8"))]


def catalog_rows(path: str | Path | None = None, mode: Literal["replace", "extend"] = "replace") -> list[RawRow]:
    """Unchecked rows of a catalogue: the shipped files, the user's file, or both (`mode` extend)."""
    shipped = shipped_rows() if path is None or mode == "extend" else []
    return shipped + (read_rows(path) if path is not None else [])


def catalog_files(path: str | Path | None = None, mode: Literal["replace", "extend"] = "replace") -> dict[str, Path]:
    """The files a catalogue is read from, by role (the shipped category files, the user's file, its twin
    groups file when there is one): what a build's record fingerprints."""
    shipped = [Path(str(DATA / f"{c}.yaml")) for c in CATEGORIES] if path is None or mode == "extend" else []
    files = {f"catalog {f.stem}": f for f in shipped if f.is_file()}
    if path is not None:
        if not Path(path).is_file():
            raise CatalogError(f"{path}: no such catalogue file (catalog.path)")
        files["catalog"] = Path(path)
        groups = Path(path).with_suffix(TWIN_GROUPS_SUFFIX)
        if groups.is_file():
            files["catalog twin groups"] = groups
    return files


def load_catalog(
    path: str | Path | None = None,
    mode: Literal["replace", "extend"] = "replace",
    schema: type[ConceptSketch] = Concept,
    categories: Sequence[str] | None = None,
) -> Catalog:
    """Read and check a catalogue: the shipped one (no `path`), a user's file, or the shipped one
    extended by the file. Any problem raises a CatalogError with one line per problem.
    """
    rows = catalog_rows(path, mode)
    concepts, problems = check_rows(rows, schema, categories)
    if problems:
        raise CatalogError("\n".join(problems))
    sources = ([str(DATA)] if path is None or mode == "extend" else []) + ([str(path)] if path is not None else [])
    home = Path(str(DATA)) / "twin_groups.jsonl" if path is None else Path(path).with_suffix(TWIN_GROUPS_SUFFIX)
    return Catalog(" + ".join(sources), tuple(concepts), home)
