"""GlobalRG-Retrieval (UBC-VL/GlobalRG-Retrieval, test split, CC-BY-4.0), from its local Parquet files.

Fields used: `image` (the Hugging Face image struct: `bytes`, `path`), `region`, `universal`.
Protocol (as the CultureCLIP reference code runs it): a 4-way choice of the image's region among
regions that have the same universal, prompts "The picture depicts a kind of {universal} in {region}",
the 3 wrong regions drawn with seed 42; universals seen in fewer than 4 regions are left out.
`spec.path` is the dataset folder (its `*.parquet` files, searched recursively) or one Parquet file.
"""

import random
from collections import defaultdict
from pathlib import Path

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem, require_fields

FIELDS = ("image", "region", "universal")
PROMPT = "The picture depicts a kind of {universal} in {region}"
CHOICES = 4
SEED = 42


@register("globalrg_retrieval")
def load_globalrg_retrieval(spec: DatasetSpec) -> EvalDataset:
    rows = read_parquet_rows(spec.path, FIELDS)
    regions: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        regions[row["universal"]].add(row["region"])
    rng = random.Random(SEED)
    prompts: dict[str, int] = {}
    items, skipped = [], []
    for n, row in enumerate(rows):
        universal, region = row["universal"], row["region"]
        if len(regions[universal]) < CHOICES:
            continue
        image = row["image"] or {}
        if not image.get("bytes"):
            skipped.append((f"row {n}", "no image bytes"))
            continue
        others = rng.sample(sorted(regions[universal] - {region}), CHOICES - 1)
        texts = [PROMPT.format(universal=universal, region=r) for r in (region, *others)]
        choice = tuple(prompts.setdefault(t, len(prompts)) for t in texts)
        name = image.get("path") or f"row-{n:05d}"
        items.append(
            EvalItem(f"{n:05d}", BytesImage(image["bytes"], name), choice[0], (), choice, universal, universal, region)
        )
    if not items:
        raise DataError(f"{spec.path}: no universal appears in {CHOICES} or more regions")
    return EvalDataset("globalrg_retrieval", items, list(prompts), ["{c}"], tasks=("twins",), skipped=skipped)


def read_parquet_rows(path: Path, fields: tuple[str, ...]) -> list[dict]:
    """Rows of one Parquet file or of every `*.parquet` under a folder, in file-name order."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet")) if path.is_dir() else []
    if not files:
        raise DataError(f"{path}: no Parquet files")
    rows = []
    for file in files:
        schema = pq.read_schema(file)
        require_fields(schema.names, fields, file)
        rows += pq.read_table(file, columns=list(fields)).to_pylist()
    return rows
