"""Read catalogue files (YAML, JSON lines, CSV) into raw rows that remember their file and row number.

YAML: a list of mappings. JSON lines: one object per line (blank lines skipped). CSV: a header row
of field names; nested attributes as dotted columns (`attributes.shape`, ...), list fields (`twins`,
`sources`) separated by ';', and an empty cell means the field is absent.
"""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from cultureclip.config import yaml_error_line
from cultureclip.errors import CatalogError
from cultureclip.io import read_utf8

LIST_FIELDS = ("twins", "sources")
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader when PyYAML was built with it
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".jsonl": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class RawRow:
    """One row as written in its file, before validation; `number` counts concepts from 1."""

    source: str
    number: int
    data: object

    @property
    def where(self) -> str:
        concept_id = self.data.get("id", "?") if isinstance(self.data, dict) else "?"
        return f"{self.source}: row {self.number} ({concept_id})"


def read_rows(path: Path | str, text: str | None = None) -> list[RawRow]:
    """Rows of one catalogue file, its format chosen by suffix; `text` skips reading the file."""
    source = str(path)
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise CatalogError(f"{source}: unknown catalogue format; expected one of {', '.join(FORMATS)}")
    if text is None:
        try:
            text = read_utf8(path, CatalogError)
        except OSError as err:
            raise CatalogError(f"{source}: cannot read ({err.strerror})") from None
    rows = {"yaml": _yaml_rows, "jsonl": _jsonl_rows, "csv": _csv_rows}[kind](source, text)
    if not rows:
        raise CatalogError(f"{source}: expected a non-empty list of concepts")
    return [RawRow(source, i, row) for i, row in enumerate(rows, 1)]


def _yaml_rows(source: str, text: str) -> list:
    try:
        rows = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as err:
        raise CatalogError(f"{source}:{yaml_error_line(err)} not valid YAML") from None
    if not isinstance(rows, list):
        raise CatalogError(f"{source}: expected a non-empty list of concepts")
    return rows


def _jsonl_rows(source: str, text: str) -> list:
    rows = []
    for line_number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise CatalogError(f"{source}: line {line_number} not valid JSON ({err.msg})") from None
    return rows


def _csv_rows(source: str, text: str) -> list:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return []
    return [_nest(row) for row in reader]


def _nest(flat: dict[str | None, str | list[str] | None]) -> dict:
    row: dict = {}
    for key, value in flat.items():
        if key is None or not isinstance(value, str) or not value.strip():
            continue  # surplus cells (key None) are ignored, empty cells are absent fields
        head, dot, leaf = key.strip().partition(".")
        if dot:
            row.setdefault(head, {})[leaf] = value.strip()
        elif head in LIST_FIELDS:
            row[head] = [item.strip() for item in value.split(";") if item.strip()]
        else:
            row[head] = value.strip()
    return row


def write_rows(path: Path, rows: list[dict], suffix: str) -> None:
    """Write rows as a catalogue file in the format `suffix` names (used by `catalog expand`)."""
    kind = FORMATS.get(suffix.lower())
    if kind == "yaml":
        path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=1000))
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        raise CatalogError(f"{path}: can only write YAML or JSON lines catalogues, not {suffix!r}")
