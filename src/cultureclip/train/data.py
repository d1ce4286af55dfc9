"""Training data in memory: preprocessed images and their rows, indexed by concept and twin group."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from cultureclip.backends.clip import ClipModel
from cultureclip.data.shards import read_split
from cultureclip.errors import DataError

REQUIRED_FIELDS = ("concept_id", "twin_group", "caption", "generic_caption")
"""Row fields every training sample needs."""


@dataclass
class TrainData:
    pixels: torch.Tensor
    rows: list[dict]
    by_concept: dict[str, list[int]]
    groups: list[list[str]]
    """Twin groups present in the data: concept ids with at least two members."""
    source: str = "training data"
    """Where the data came from, for error messages."""


def load_train_data(folder: Path, model: ClipModel, split: str = "train", extra: Sequence[Path] = ()) -> TrainData:
    """Read a split, followed by the train split of each `extra` folder, and preprocess its images for `model`."""
    samples = []
    for source, name in [(folder, split), *((f, "train") for f in extra)]:
        part = read_split(source, name)
        for sample in part:
            missing = [k for k in REQUIRED_FIELDS if sample.row.get(k) is None]
            if missing:
                raise DataError(f"{source}: sample {sample.row.get('key', '?')!r} has no {missing[0]!r} field")
        samples += part
    rows = [s.row for s in samples]
    by_concept: dict[str, list[int]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    for i, row in enumerate(rows):
        by_concept[row["concept_id"]].append(i)
        members[row["twin_group"]].add(row["concept_id"])
    groups = [sorted(m) for _, m in sorted(members.items()) if len(m) > 1]
    pixels = model.images_to_tensor([s.image for s in samples])
    return TrainData(pixels, rows, dict(by_concept), groups, " + ".join(str(f) for f in (folder, *extra)))
