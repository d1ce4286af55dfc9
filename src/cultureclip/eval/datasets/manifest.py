"""A manifest: a CSV or JSON-lines file with one row per image.

Fields: `image` (required; a path, relative to the manifest's folder), `label` (class name),
`caption` (or, in JSON lines, `captions`: a list), `twin_ids` (labels this image can be confused
with; a JSON list, or ';'-separated in CSV), and optional `id`, `group`, `category`, `culture`,
`generic`. The label set is the labels in order of first appearance, or the lines of
spec.classnames (then a label outside it, a duplicate, or a class without images is an error).
Twins that are not in the label set are ignored.
"""

import csv
import io
import json
from pathlib import Path

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem, FileImage, check_label_set, read_classnames
from cultureclip.io import read_utf8


@register("manifest")
def load_manifest(spec: DatasetSpec) -> EvalDataset:
    path = spec.path
    rows = _read_rows(path)
    labels = [r.get("label") or None for _, r in rows]
    classes = read_classnames(spec.classnames, None, path) or list(dict.fromkeys(x for x in labels if x))
    index = {c: i for i, c in enumerate(classes)}
    counts = [0] * len(classes)
    items = []
    for (line, row), label in zip(rows, labels, strict=True):
        if not row.get("image"):
            raise DataError(f"{path} line {line}: missing field 'image'")
        if label is not None and label not in index:
            raise DataError(f"{path} line {line}: label {label!r} is not in {spec.classnames}")
        target = index[label] if label is not None else None
        if target is not None:
            counts[target] += 1
        twins = [index[t] for t in _list(row.get("twin_ids")) if t in index and t != label]
        image = Path(row["image"]) if Path(row["image"]).is_absolute() else path.parent / row["image"]
        items.append(
            EvalItem(
                id=str(row.get("id") or row["image"]),
                image=FileImage(image),
                label=target,
                captions=_captions(row),
                candidates=(target, *twins) if twins and target is not None else (),
                group=row.get("group") or None,
                category=row.get("category") or None,
                culture=row.get("culture") or None,
                generic=row.get("generic") or None,
            )
        )
    check_label_set(classes, counts, path)
    return EvalDataset(path.stem, items, classes)


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise DataError(f"{path}: no such manifest")
    text = read_utf8(path)
    if path.suffix.lower() == ".csv":
        return [(n, row) for n, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2)]
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path} line {n}: not valid JSON ({err.msg})") from None
        except RecursionError:
            raise DataError(f"{path} line {n}: not valid JSON (nested too deep)") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {n}: expected a JSON object")
        rows.append((n, row))
    return rows


def _list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _captions(row: dict) -> tuple[str, ...]:
    many = row.get("captions")
    if isinstance(many, list):
        return tuple(str(c) for c in many)
    return (str(row["caption"]),) if row.get("caption") else ()
