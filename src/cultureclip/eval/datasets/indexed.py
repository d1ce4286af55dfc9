"""Image folders indexed by a CSV file (GeoDE, Dollar Street): the index's rows, and the zero-shot
classification dataset of (image, class, culture) entries."""

import csv
from collections import Counter
from pathlib import Path

from cultureclip.eval.datasets.base import EvalDataset, EvalItem, FileImage, check_label_set, require_fields


def read_index(index: Path, fields: tuple[str, ...]) -> list[dict]:
    """The rows of the CSV file `index`, which must have `fields`."""
    with index.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        require_fields(list(reader.fieldnames or []), fields, index)
        return list(reader)


def classification_dataset(name: str, entries: list[tuple[str, Path, str, str]], source: Path) -> EvalDataset:
    """Zero-shot classification over the classes of (id, image file, class, culture) entries, classes sorted."""
    classes = sorted({cls for _, _, cls, _ in entries})
    label = {c: i for i, c in enumerate(classes)}
    items = [EvalItem(i, FileImage(p), label[c], category=c, culture=culture) for i, p, c, culture in entries]
    counts = Counter(it.label for it in items)
    check_label_set(classes, [counts[i] for i in range(len(classes))], source)
    return EvalDataset(name, items, classes, tasks=("classification",))
