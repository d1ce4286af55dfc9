"""The training data's index: where each sample lies and the ids batches are formed from, read from the
manifests alone. No images and no texts: those stream from the shards (see `stream`), so the index costs
about 40 bytes per image and building it reads a few manifest columns, whatever the dataset's size."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cultureclip.data.row import TRAINING
from cultureclip.data.shards import split_table
from cultureclip.errors import DataError

INDEX_FIELDS = ("concept_id", "twin_group", "generic", "shard", "offset", "length")
"""Row fields the index is built from."""


@dataclass
class TrainData:
    shards: list[Path]
    """Shard files; `shard[i]` is the position of row i's shard in this list."""
    shard: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    concept: np.ndarray
    """Per row, the position of its concept id in `concepts`."""
    generic: np.ndarray
    """Per row, a code of its generic noun (rows with the same noun share it)."""
    concepts: list[str]
    by_concept: dict[str, np.ndarray]
    """Rows of each concept id."""
    groups: list[list[str]]
    """Twin groups present in the data: concept ids with at least two members."""
    source: str = "training data"
    """Where the data came from, for error messages."""

    def __len__(self) -> int:
        return len(self.shard)


def load_train_data(folder: Path, split: str = "train", extra: Sequence[Path] = ()) -> TrainData:
    """The index of a split, followed by the train split of each `extra` folder (rows in manifest order)."""
    import pyarrow.compute as pc

    columns: dict[str, list] = {k: [] for k in INDEX_FIELDS}
    for source, name in [(folder, split), *((f, "train") for f in extra)]:
        table = split_table(source, name, ("key", *TRAINING, "generic"))
        for field in TRAINING:
            missing = pc.is_null(table[field]) if field in table.column_names else None
            if missing is None or pc.any(missing).as_py():
                first = 0 if missing is None else pc.index(missing, True).as_py()
                key = table["key"][first].as_py() if "key" in table.column_names else "?"
                raise DataError(f"{source}: sample {key!r} has no {field!r} field")
        for field, values in columns.items():
            if field == "shard":
                values += [str(Path(source) / s) for s in table["shard"].to_pylist()]
            else:
                values += table[field].to_pylist() if field in table.column_names else [None] * len(table)
    return index_rows(columns, " + ".join(str(f) for f in (folder, *extra)))


def index_rows(columns: dict[str, list], source: str) -> TrainData:
    """The index of rows given as columns (each of INDEX_FIELDS, one value per row)."""
    shards, shard = _codes(columns["shard"])
    concepts, concept = _codes(columns["concept_id"])
    _, generic = _codes(columns["generic"])
    members: dict[str, set[str]] = {}
    for group, c in zip(columns["twin_group"], columns["concept_id"], strict=True):
        members.setdefault(group, set()).add(c)
    order = np.argsort(concept, kind="stable")
    bounds = np.searchsorted(concept[order], np.arange(len(concepts) + 1))
    return TrainData(
        shards=[Path(s) for s in shards],
        shard=shard,
        offset=np.asarray(columns["offset"], dtype=np.int64),
        length=np.asarray(columns["length"], dtype=np.int64),
        concept=concept,
        generic=generic,
        concepts=concepts,
        by_concept={c: order[bounds[i] : bounds[i + 1]] for i, c in enumerate(concepts)},
        groups=[sorted(m) for _, m in sorted(members.items()) if len(m) > 1],
        source=source,
    )


def _codes(values: list) -> tuple[list, np.ndarray]:
    """The distinct values in first-seen order, and each value's position among them."""
    distinct: dict = {}
    codes = np.fromiter((distinct.setdefault(v, len(distinct)) for v in values), dtype=np.int32, count=len(values))
    return list(distinct), codes
