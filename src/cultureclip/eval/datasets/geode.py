"""GeoDE (geographically diverse everyday objects, 40 objects photographed in 6 world regions), from
its local release: a folder with `index.csv` and the images.

Fields used from index.csv: `file_path` (relative to the folder, or to its `images/` sub-folder),
`object` (the class; '_' read as a space) and `region` (reported as the culture, per-region accuracy).
Task: zero-shot classification over the objects, the standard way GeoDE measures geographic gaps.
"""

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.indexed import classification_dataset, read_index

FIELDS = ("file_path", "object", "region")
HOME = "https://geodiverse-data-collection.cs.princeton.edu"
"""Where the release is downloaded (it is not on the Hugging Face hub)."""


@register("geode")
def load_geode(spec: DatasetSpec) -> EvalDataset:
    index = spec.path / "index.csv" if spec.path.is_dir() else spec.path
    if not index.is_file():
        raise DataError(f"{spec.path}: no GeoDE index.csv")
    root = index.parent
    entries = []
    for row in read_index(index, FIELDS):
        path = root / row["file_path"]
        if not path.exists() and (root / "images" / row["file_path"]).exists():
            path = root / "images" / row["file_path"]
        entries.append((row["file_path"], path, row["object"].replace("_", " "), row["region"]))
    return classification_dataset("geode", entries, index)
