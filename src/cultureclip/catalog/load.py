"""Load a catalogue file and check it: every problem is one line naming file, row and field."""

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from cultureclip.catalog.schema import Concept
from cultureclip.errors import CatalogError

SHIPPED = resources.files("cultureclip") / "catalog" / "data" / "concepts.yaml"


@dataclass(frozen=True)
class Catalog:
    """Concepts in file order, with their twin groups (each group: ids of look-alikes, 2 or more)."""

    source: str
    concepts: tuple[Concept, ...]

    @cached_property
    def by_id(self) -> dict[str, Concept]:
        return {c.id: c for c in self.concepts}

    @cached_property
    def groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for c in self.concepts:
            groups[c.twin_group].append(c.id)
        return {g: tuple(ids) for g, ids in groups.items()}

    def twins_of(self, concept_id: str) -> tuple[str, ...]:
        concept = self.by_id[concept_id]
        return tuple(i for i in self.groups[concept.twin_group] if i != concept_id)

    def first_groups(self, n: int) -> "Catalog":
        keep = set(list(self.groups)[:n])
        return Catalog(self.source, tuple(c for c in self.concepts if c.twin_group in keep))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a YAML catalogue (the shipped one when `path` is None)."""
    source = str(path) if path is not None else str(SHIPPED)
    try:
        text = Path(path).read_text() if path is not None else SHIPPED.read_text()
        rows = yaml.safe_load(text)
    except OSError as err:
        raise CatalogError(f"{source}: cannot read ({err.strerror})") from None
    except yaml.YAMLError:
        raise CatalogError(f"{source}: not valid YAML") from None
    if not isinstance(rows, list) or not rows:
        raise CatalogError(f"{source}: expected a non-empty list of concepts")
    problems: list[str] = []
    concepts = [c for i, row in enumerate(rows, 1) if (c := _parse_row(source, i, row, problems))]
    problems += _check_links(source, concepts)
    if problems:
        raise CatalogError("\n".join(problems))
    return Catalog(source, tuple(concepts))


def _parse_row(source: str, row_number: int, row: object, problems: list[str]) -> Concept | None:
    if not isinstance(row, dict):
        problems.append(f"{source}: row {row_number}: expected a mapping")
        return None
    try:
        return Concept.model_validate(row)
    except ValidationError as err:
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"])
            problems.append(f"{source}: row {row_number} ({row.get('id', '?')}): {field}: {e['msg']}")
        return None


def _check_links(source: str, concepts: list[Concept]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for c in concepts:
        if c.id in seen:
            problems.append(f"{source}: id {c.id!r}: duplicate id")
        seen.add(c.id)
    groups: dict[str, list[Concept]] = defaultdict(list)
    for c in concepts:
        groups[c.twin_group].append(c)
    for name, members in groups.items():
        where = f"{source}: twin_group {name!r}"
        if len(members) < 2:
            problems.append(f"{where}: needs at least 2 concepts, has {len(members)}")
        if len({m.culture for m in members}) < len(members):
            problems.append(f"{where}: twins must come from different cultures")
        if len({m.attributes for m in members}) < len(members):
            problems.append(f"{where}: twins must differ in their attributes")
    return problems
