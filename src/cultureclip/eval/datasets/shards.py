"""The builder's output: WebDataset shards with a Parquet manifest (see `cultureclip.shards`).

Each image's label is its concept (shown by its name), its candidates are its concept and its twins,
its caption is the builder's caption, and its generic noun, category and culture come along.
"""

from cultureclip.config import DatasetSpec
from cultureclip.data.shards import read_split_encoded
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem


@register("shards")
def load_shards(spec: DatasetSpec) -> EvalDataset:
    samples = read_split_encoded(spec.path, spec.split)
    concepts = list(dict.fromkeys(row["concept_id"] for row, _ in samples))
    names = {row["concept_id"]: row["name"] for row, _ in samples}
    index = {c: i for i, c in enumerate(concepts)}
    items = []
    for row, png in samples:
        label = index[row["concept_id"]]
        twins = tuple(index[t] for t in row["twin_ids"] if t in index)
        items.append(
            EvalItem(
                id=row["key"],
                image=BytesImage(png, row["key"]),
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
    return EvalDataset(f"{name}-{spec.split}", items, [names[c] for c in concepts])
