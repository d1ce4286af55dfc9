"""An image folder: `root/<class>/<image>`, one sub-folder per class (torchvision ImageFolder layout)."""

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import (
    IMAGE_SUFFIXES,
    EvalDataset,
    EvalItem,
    FileImage,
    check_label_set,
    read_classnames,
)


@register("folder")
def load_folder(spec: DatasetSpec) -> EvalDataset:
    """Classes are the sorted sub-folder names ('_' read as a space) or the lines of spec.classnames."""
    root = spec.path
    if not root.is_dir():
        raise DataError(f"{root}: no such image folder")
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise DataError(f"{root}: no class sub-folders (expected {root}/<class>/<image>)")
    classes = read_classnames(spec.classnames, len(folders), root) or [d.name.replace("_", " ") for d in folders]
    items, counts = [], []
    for label, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        counts.append(len(files))
        items += [EvalItem(f"{folder.name}/{p.name}", FileImage(p), label) for p in files]
    check_label_set(classes, counts, root)
    return EvalDataset(root.name, items, classes)
