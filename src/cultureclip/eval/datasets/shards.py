"""The builder's output: WebDataset shards with a Parquet manifest (see `cultureclip.data.shards`).

Each image's label is its concept (shown by its name), its candidates are its concept and its twins,
its caption is the builder's caption, and its generic noun, category and culture come along. Items
come from the manifest alone: an image is read from its shard only when it is decoded, and its cache
key is the manifest's hash, so a warm evaluation reads no image at all.
"""

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cultureclip.config import DatasetSpec
from cultureclip.data.shards import ShardReader, image_member, split_rows
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem

_READER = ShardReader()
COLUMNS = ("key", "concept_id", "name", "twin_ids", "caption", "twin_group", "category", "culture", "generic")


@dataclass(frozen=True)
class ShardImage:
    """An image stored in a shard, at a known place, with a known hash."""

    shard: Path
    offset: int
    length: int
    sha256: str
    name: str

    def digest(self) -> str:
        return self.sha256

    def open(self) -> Image.Image:
        return Image.open(io.BytesIO(image_member(_READER.read(self.shard, self.offset, self.length), self.shard)))


@register("shards")
def load_shards(spec: DatasetSpec) -> EvalDataset:
    rows = split_rows(spec.path, spec.split, COLUMNS)
    concepts = list(dict.fromkeys(row["concept_id"] for row in rows))
    names = {row["concept_id"]: row["name"] for row in rows}
    index = {c: i for i, c in enumerate(concepts)}
    items = []
    for row in rows:
        label = index[row["concept_id"]]
        twins = tuple(index[t] for t in row["twin_ids"] if t in index)
        image = ShardImage(spec.path / row["shard"], row["offset"], row["length"], row["sha256"], row["key"])
        items.append(
            EvalItem(
                id=row["key"],
                image=image,
                label=label,
                captions=(row["caption"],),
                candidates=(label, *twins) if twins else (),
                group=row["twin_group"],
                category=row["category"],
                culture=row["culture"],
                generic=row["generic"],
            )
        )
    name = spec.path.name if spec.path.name != "data" else spec.path.parent.name
    classes = [names[c] for c in concepts]
    return EvalDataset(f"{name}-{spec.split}", items, classes, split=spec.split, class_ids=concepts)
