"""Dollar Street (Gapminder's photos of everyday household objects in homes of 63 countries across incomes,
released by MLCommons: Rojas et al., "The Dollar Street Dataset", NeurIPS 2022 Datasets and Benchmarks), from
its local release: the folder with `images_v2.csv` (or its ImageNet-mapped test split,
`images_v2_imagenet_test.csv`, used when present) and the images under it.

Fields used: `imageRelPath` (relative to the folder), `topics` (the class: a topic name, or the first of a
list of them written as "['a', 'b']") and `country.name` (reported as the culture, per-country accuracy).
Task: zero-shot classification over the topics, as Pouget et al. ("No Filter: Cultural and Socioeconomic
Diversity in Contrastive Vision-Language Models", NeurIPS 2024) and MetaCLIP 2 (arXiv:2507.22062) report
Dollar Street: top-1 accuracy, prompts "a photo of {topic}.".
"""

import ast

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.indexed import classification_dataset, read_index

INDEXES = ("images_v2_imagenet_test.csv", "images_v2.csv")
"""Index files of the release, the first present is read."""
FIELDS = ("imageRelPath", "topics", "country.name")
HOME = "https://mlcommons.org/datasets/dollar-street/"
"""Where the release is downloaded (it is not on the Hugging Face hub in this layout)."""


def topic(value: str, where: str) -> str:
    """The class of a `topics` cell: the topic, or the first of a list of them."""
    value = value.strip()
    if value.startswith("["):
        try:
            topics = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise DataError(f"{where}: topics {value[:60]!r} is not a list of names") from None
        value = str(topics[0]).strip() if topics else ""
    if not value:
        raise DataError(f"{where}: no topic")
    return value


@register("dollar_street")
def load_dollar_street(spec: DatasetSpec) -> EvalDataset:
    """`--data dollar_street:PATH`: the release folder PATH (or one of its index files)."""
    folder = spec.path if spec.path.is_dir() else spec.path.parent
    index = spec.path if spec.path.is_file() else next((folder / n for n in INDEXES if (folder / n).is_file()), None)
    if index is None:
        raise DataError(f"{spec.path}: no Dollar Street index ({' or '.join(INDEXES)})")
    entries = []
    for n, row in enumerate(read_index(index, FIELDS), start=2):
        where = f"{index}: line {n}"
        entries.append(
            (row["imageRelPath"], folder / row["imageRelPath"], topic(row["topics"], where), row["country.name"])
        )
    return classification_dataset("dollar_street", entries, index)
