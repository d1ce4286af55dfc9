"""Validate catalogue rows: every problem is one line naming file, row, field and what was expected.

Row checks: the schema (missing fields, unknown category, attribute values), ISO 3166-1 country
codes, ISO 639-1 language codes of `names` and each name in its language's script (`scripts.py`),
and CLIP's 77-token context for the fields that feed captions. Catalogue checks: duplicate
ids, `twins` links to missing ids, and twin groups (2 or more members, different cultures, one
silhouette, looks the renderer draws differently).
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import cache

from pydantic import ValidationError

from cultureclip.backends.clip.tokenizer import clip_bpe
from cultureclip.backends.image.procedural import drawn_look
from cultureclip.catalog.files import RawRow
from cultureclip.catalog.schema import CAPTION_FIELDS, Concept, ConceptSketch
from cultureclip.catalog.scripts import iso_639_1, script_problem

DRAWN_ALIKE = "twins must look different (an accent colour shows only with a pattern or a detail)"


@cache
def _country_codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


def check_rows(
    rows: list[RawRow], schema: type[ConceptSketch] = Concept, categories: Sequence[str] | None = None
) -> tuple[list[ConceptSketch], list[str]]:
    """Validate `rows` against `schema` (a category from `categories`, default the shipped vocabulary);
    return the valid concepts and one line per problem."""
    problems: list[str] = []
    parsed: list[tuple[RawRow, ConceptSketch]] = []
    for row in rows:
        concept = _parse(row, schema, problems, categories)
        if concept is not None:
            problems += _row_problems(row, concept)
            parsed.append((row, concept))
    written = [row.data for row in rows if isinstance(row.data, dict)]  # invalid rows count as written here
    sizes = Counter(data.get("twin_group") for data in written)
    problems += _id_problems(parsed, {data.get("id") for data in written}) + _group_problems(parsed, sizes)
    return [c for _, c in parsed], problems


def _parse(
    row: RawRow, schema: type[ConceptSketch], problems: list[str], categories: Sequence[str] | None
) -> ConceptSketch | None:
    if not isinstance(row.data, dict):
        problems.append(f"{row.source}: row {row.number}: expected a mapping of field names to values")
        return None
    try:
        return schema.model_validate(row.data, context={"categories": categories})
    except ValidationError as err:
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"])
            message = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{row.where}: {field}: {message}")
        return None


def _row_problems(row: RawRow, concept: ConceptSketch) -> list[str]:
    problems = []
    if concept.country is not None and concept.country not in _country_codes():
        problems.append(f"{row.where}: country: {concept.country!r} is not an ISO 3166-1 alpha-2 country code")
    problems += [f"{row.where}: names.{language}: {why}" for language, why in name_problems(concept.names)]
    tokenizer = clip_bpe()  # CLIP's BPE and its 77-token context
    for field in CAPTION_FIELDS:
        text = getattr(concept, field)
        if text and (n := tokenizer.count(text)) > tokenizer.context_length:
            problems.append(
                f"{row.where}: {field}: {n} CLIP tokens; at most {tokenizer.context_length} fit in a caption"
            )
    return problems


def name_problems(names: dict[str, str]) -> list[tuple[str, str]]:
    """(language, why) for each name whose code is not ISO 639-1 or whose text is not in its script."""
    problems = []
    for language, name in names.items():
        if language not in iso_639_1():
            problems.append((language, f"{language!r} is not an ISO 639-1 language code"))
        elif (why := script_problem(language, name)) is not None:
            problems.append((language, why))
    return problems


def _id_problems(parsed: list[tuple[RawRow, ConceptSketch]], written: set) -> list[str]:
    problems = []
    first: dict[str, RawRow] = {}
    for row, concept in parsed:
        if concept.id in first:
            seen = first[concept.id]
            problems.append(f"{row.where}: id: duplicate of {seen.source}: row {seen.number}; ids must be unique")
        first.setdefault(concept.id, row)
    for row, concept in parsed:
        problems += [
            f"{row.where}: twins: {twin!r} is not an id in the catalogue"
            for twin in concept.twins
            if twin not in written
        ]
    return problems


def _group_problems(parsed: list[tuple[RawRow, ConceptSketch]], sizes: Counter) -> list[str]:
    groups: dict[str, list[tuple[RawRow, ConceptSketch]]] = defaultdict(list)
    for row, concept in parsed:
        if concept.twin_group is not None:
            groups[concept.twin_group].append((row, concept))
    problems = []
    for name, members in groups.items():
        if sizes[name] < 2:
            problems.append(f"{members[0][0].where}: twin_group: {name!r} needs at least 2 concepts, has 1")
        problems += _repeats(name, members, "culture", lambda c: c.culture, "twins must come from different cultures")
        if all(c.attributes is not None for _, c in members):
            problems += _repeats(name, members, "attributes", _look, DRAWN_ALIKE)
            shapes = {c.attributes.shape for _, c in members}
            if len(shapes) > 1:
                where = members[0][0].where
                problems.append(
                    f"{where}: attributes.shape: twin_group {name!r} mixes {sorted(shapes)}; twins share one"
                )
    return problems


def _look(concept: ConceptSketch) -> tuple[str, ...]:
    return drawn_look(concept.attributes.model_dump())


def _repeats(group: str, members: list[tuple[RawRow, ConceptSketch]], field: str, key, expected: str) -> list[str]:
    seen: dict[object, RawRow] = {}
    problems = []
    for row, concept in members:
        value = key(concept)
        if value in seen:
            problems.append(
                f"{row.where}: {field}: same as row {seen[value].number} in twin_group {group!r}; {expected}"
            )
        seen.setdefault(value, row)
    return problems
