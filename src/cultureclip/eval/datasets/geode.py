"""GeoDE (geographically diverse everyday objects, 40 objects photographed in 6 world regions), from
its local release: a folder with `index.csv` and the images.

Fields used from index.csv: `file_path` (relative to the folder, or to its `images/` sub-folder),
`object` (the class; '_' read as a space) and `region` (reported as the culture, per-region accuracy).
Task: zero-shot classification over the objects, the standard way GeoDE measures geographic gaps.
"""

import csv
from collections import Counter

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem, FileImage, check_label_set, require_fields

FIELDS = ("file_path", "object", "region")


@register("geode")
def load_geode(spec: DatasetSpec) -> EvalDataset:
    index = spec.path / "index.csv" if spec.path.is_dir() else spec.path
    if not index.is_file():
        raise DataError(f"{spec.path}: no GeoDE index.csv")
    with index.open(newline="") as f:
        reader = csv.DictReader(f)
        require_fields(list(reader.fieldnames or []), FIELDS, index)
        rows = list(reader)
    classes = sorted({r["object"].replace("_", " ") for r in rows})
    label = {c: i for i, c in enumerate(classes)}
    root = index.parent
    items = []
    for row in rows:
        path = root / row["file_path"]
        if not path.exists() and (root / "images" / row["file_path"]).exists():
            path = root / "images" / row["file_path"]
        obj = row["object"].replace("_", " ")
        items.append(EvalItem(row["file_path"], FileImage(path), label[obj], category=obj, culture=row["region"]))
    counts = Counter(it.label for it in items)
    check_label_set(classes, [counts[i] for i in range(len(classes))], index)
    return EvalDataset("geode", items, classes, tasks=("classification",))
