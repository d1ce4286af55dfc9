"""The dataset row: one image's fields, the same in every recipe (built, imported, derived), in one schema.

`dataset_row` is the one constructor every recipe uses; `check_rows` runs when a manifest is written
(`shards.write_manifest`), so a bad row fails when the dataset is made, not when it is trained on. The card
documents the schema (`schema_lines`), generated from `FIELDS`.
"""

from dataclasses import dataclass
from pathlib import Path

from cultureclip.errors import DataError


@dataclass(frozen=True)
class Field:
    """A row field: what it means, its type, and whether every kept row must give it."""

    meaning: str
    kind: type = str
    required: bool = False


FIELDS: dict[str, Field] = {
    "key": Field("the sample's key: unique in the dataset, the stem of its shard members", required=True),
    "split": Field("the split it belongs to (train, test)", required=True),
    "concept_id": Field("the concept's id; training batches draw concepts", required=True),
    "name": Field("the concept's name", required=True),
    "culture": Field("the culture (country) of the concept; empty where the source gives none", required=True),
    "category": Field("the concept's category (Cuisine, Clothing, ...)", required=True),
    "generic": Field("the generic noun: what the concept is a kind of", required=True),
    "twin_group": Field("the twin group: look-alike concepts of other cultures, trained against", required=True),
    "twin_ids": Field("the concept ids of the row's twins", list, required=True),
    "caption": Field("the caption trained on", required=True),
    "generic_caption": Field("a caption naming the generic noun only (the culture-blind negative)", required=True),
    "status": Field("kept, rejected or failed (only kept rows are in the shards)"),
    "reason": Field("why a row was rejected or failed"),
    "source": Field("where the image comes from: rendered (an image generator), photo (a real photo), release"),
    "country": Field("the country the concept was asked about (reference recipes)"),
    "context": Field("the concept's cultural context, ~20 words"),
    "distinguishing": Field("what tells the concept from its twins (the catalogue's)"),
    "features": Field("the concept's key visual features (the twin prompt's, or the release's)"),
    "caption_source": Field("who wrote the caption"),
    "caption_note": Field("why the caption fell back to the template, when it did"),
    "seed": Field("the image's seed", int),
}
"""Every field the schema knows, by name; a recipe may add its own (judge scores, filter scores, URLs)."""
KINDS = {str: "a string", int: "an integer", list: "a list of strings"}
REQUIRED = tuple(name for name, f in FIELDS.items() if f.required)
TRAINING = ("concept_id", "twin_group", "caption", "generic_caption")
"""The fields every training sample needs (the trainer checks them on data made elsewhere too)."""
DROPPED = ("key", "split", "status")
"""The fields a rejected or failed row must give (with its `reason`, where there is one)."""


def dataset_row(
    *,
    key: str,
    split: str,
    concept_id: str,
    name: str,
    culture: str,
    category: str,
    generic: str,
    twin_group: str,
    twin_ids: list[str],
    caption: str,
    generic_caption: str | None = None,
    **optional: object,
) -> dict:
    """A row of the schema (required fields first, then `optional`); `generic_caption` defaults to
    "a photo of {generic}." (a thing, without a generic noun)."""
    if generic_caption is None:
        generic_caption = f"a photo of {generic or 'a thing'}."
    row = {
        "key": key,
        "split": split,
        "concept_id": concept_id,
        "name": name,
        "culture": culture,
        "category": category,
        "generic": generic,
        "twin_group": twin_group,
        "twin_ids": twin_ids,
        "caption": caption,
        "generic_caption": generic_caption,
        **optional,
    }
    check_row("dataset row", row, complete=True)
    return row


def check_rows(folder: Path, rows: list[dict], complete: bool) -> None:
    """Each of `rows` (a dataset's, in `folder`) checked by `check_row`."""
    for row in rows:
        check_row(str(folder), row, complete)


def check_row(where: str, row: dict, complete: bool) -> None:
    """A DataError naming the row and the field when a field the schema knows has the wrong type, or (when
    `complete`: the builder's rows) a kept row lacks a required field or a dropped one its status or reason."""
    key = row.get("key")
    if complete:
        dropped = row.get("status") not in (None, "kept") and not row.get("shard")
        for field in DROPPED if dropped else REQUIRED:
            if row.get(field) is None:
                raise DataError(f"{where}: row {key!r} has no {field!r} field ({_meaning(field)})")
    for field, value in row.items():
        spec = FIELDS.get(field)
        if spec is None or value is None:
            continue
        if not isinstance(value, spec.kind) or isinstance(value, bool) or (spec.kind is list and not _strings(value)):
            raise DataError(f"{where}: row {key!r}: field {field!r} is {value!r}, not {KINDS[spec.kind]}")


def _strings(values: list) -> bool:
    return all(isinstance(v, str) for v in values)


def _meaning(field: str) -> str:
    return FIELDS[field].meaning if field in FIELDS else "a field of dropped rows"


def schema_lines() -> list[str]:
    """The card's section on the rows: each field of the schema, required or not, and its meaning."""
    lines = ["## Rows (`manifest.parquet`, each sample's `.json`)", "", "| field | | meaning |", "|---|---|---|"]
    lines += [f"| {n} | {'required' if f.required else 'optional'} | {f.meaning} |" for n, f in FIELDS.items()]
    return [*lines, "| (others) | optional | the recipe's own: judge or filter scores, URLs, notes |", ""]
