"""Training data in memory: preprocessed images and their rows, indexed by concept and twin group."""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from cultureclip.backends.clip import ClipModel
from cultureclip.data.shards import read_split
from cultureclip.errors import DataError


@dataclass
class TrainData:
    pixels: torch.Tensor
    rows: list[dict]
    by_concept: dict[str, list[int]]
    groups: list[list[str]]
    """Twin groups present in the data: concept ids with at least two members."""
    source: str = "training data"
    """Where the data came from, for error messages."""


def load_train_data(folder: Path, model: ClipModel, split: str = "train") -> TrainData:
    """Read a split and preprocess its images for `model`."""
    samples = read_split(folder, split)
    rows = [s.row for s in samples]
    for row in rows:
        missing = [k for k in ("concept_id", "twin_group", "caption", "generic_caption") if row.get(k) is None]
        if missing:
            raise DataError(f"{folder}: sample {row.get('key', '?')!r} has no {missing[0]!r} field")
    by_concept: dict[str, list[int]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    for i, row in enumerate(rows):
        by_concept[row["concept_id"]].append(i)
        members[row["twin_group"]].add(row["concept_id"])
    groups = [sorted(m) for _, m in sorted(members.items()) if len(m) > 1]
    pixels = model.images_to_tensor([s.image for s in samples])
    return TrainData(pixels, rows, dict(by_concept), groups, str(folder))
