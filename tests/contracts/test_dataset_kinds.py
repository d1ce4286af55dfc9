"""Every registered evaluation dataset kind, on a tiny copy in its own layout, runs every task its fields support
through a real (tiny) CLIP (the linear probe where there is enough to fit on): a record per scored unit, finite
metrics, paired metrics the means of their records, and the tasks it runs by default among them.
A new kind without a writer here fails `test_the_table_covers_every_registered_kind`."""

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.config import DatasetSpec
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.eval.cache import EmbeddingCache
from cultureclip.eval.datasets import list_kinds, load_dataset
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.embed import Encoder
from cultureclip.eval.tasks import run_task
from helpers.bench_releases import (
    CONCEPTS,
    GROUNDING_ROWS,
    NAMES,
    REGIONS,
    RETRIEVAL_ROWS,
    cvqa_rows,
    dollar_street,
    seeing,
    write_release,
)
from helpers.idx import write_idx

TWINS = [("gyoza", "Japan", ["mandu"]), ("mandu", "Korea", ["gyoza", "pelmeni"]), ("pelmeni", "Russia", ["mandu"])]


def _picture(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), (shade, 255 - shade, 40)).save(path)
    return path


def _folder(root: Path) -> DatasetSpec:
    for c, name in enumerate(("red pot", "blue bowl", "green cup")):
        for i in range(3):
            _picture(root / name / f"{i}.png", 60 * c + 10 * i)
    return DatasetSpec(kind="folder", path=root)


def _manifest(root: Path) -> DatasetSpec:
    lines = []
    for c, (name, culture, twins) in enumerate(TWINS):
        for i in range(2):
            _picture(root / "i" / f"{name}{i}.png", 70 * c + 15 * i)
            row = {"image": f"i/{name}{i}.png", "label": name, "caption": f"{name} on a plate", "twin_ids": twins}
            lines.append({**row, "culture": culture, "generic": "dumpling"})
    (root / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return DatasetSpec(kind="manifest", path=root / "set.jsonl")


def _shards(root: Path) -> DatasetSpec:
    root.mkdir()
    written = []
    for split in ("train", "test"):
        rows = [
            {"key": f"{name}-{split}-{i}", "split": split, "concept_id": name, "name": name, "culture": culture,
             "category": "dishes", "generic": "dumpling", "twin_group": "dumplings", "twin_ids": twins,
             "caption": f"{name} caption {i}"}
            for name, culture, twins in TWINS for i in range(2)
        ]  # fmt: skip
        samples = [Sample(r, Image.new("RGB", (8, 8), (i * 40, 0, 0))) for i, r in enumerate(rows)]
        written += write_split(root, split, samples, 4)
    write_manifest(root, written)
    return DatasetSpec(kind="shards", path=root)


def _idx_pair(root: Path, prefix: str, labels: list[int]) -> None:
    images = np.stack([np.full((4, 4), 20 * k + 5 * label, np.uint8) for k, label in enumerate(labels)])
    write_idx(root / f"{prefix}-images-idx3-ubyte", images)
    write_idx(root / f"{prefix}-labels-idx1-ubyte", np.array(labels, np.uint8))


def _fashion_mnist(root: Path) -> DatasetSpec:
    root.mkdir()
    _idx_pair(root, "train", [0, 1, 2, 0, 1, 2])
    _idx_pair(root, "t10k", [0, 1, 2, 1])
    return DatasetSpec(kind="fashion_mnist", path=root)


def _clip_benchmark(root: Path) -> DatasetSpec:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _idx_pair(raw, "train", [0, 1, 2, 3])
    _idx_pair(raw, "t10k", [0, 1, 2, 3, 1])
    return DatasetSpec(kind="clip_benchmark", dataset="mnist", path=root)


def _geode(root: Path) -> DatasetSpec:
    lines = ["file_path,object,region"]
    for k, (obj, seen) in enumerate([("sushi", "sushi"), ("ramen", "sushi"), ("tacos", "tacos")]):
        seeing(NAMES, seen).save(_picture(root / "images" / f"{k}.png", 0))
        lines.append(f"{k}.png,{obj},Asia")
    (root / "index.csv").write_text("\n".join(lines) + "\n")
    return DatasetSpec(kind="geode", path=root)


def _crope(root: Path) -> DatasetSpec:
    rows = [
        {"image": seeing(CONCEPTS, seen), "definition_images": [seeing(CONCEPTS, d)], "answer": "no",
         "metadata": {"image_en_concept": seen, "definition_concept": d, "country": "x"}}
        for seen, d in [("hanbok", "kimono"), ("erhu", "guzheng")]
    ]  # fmt: skip
    return DatasetSpec(kind="crope", path=write_release(root, rows, files=1))


def _grounding(root: Path) -> DatasetSpec:
    rows = [{"image": seeing(CONCEPTS, s), "region": r, "concept": c} for r, c, s in GROUNDING_ROWS]
    return DatasetSpec(kind="globalrg_grounding", path=write_release(root, rows))


def _retrieval(root: Path) -> DatasetSpec:
    rows = [{"image": seeing(REGIONS, s), "region": r, "universal": u} for u, r, s in RETRIEVAL_ROWS]
    return DatasetSpec(kind="globalrg_retrieval", path=write_release(root, rows))


KINDS: dict[str, Callable[[Path], DatasetSpec]] = {
    "folder": _folder,
    "manifest": _manifest,
    "shards": _shards,
    "fashion_mnist": _fashion_mnist,
    "clip_benchmark": _clip_benchmark,
    "geode": _geode,
    "dollar_street": lambda root: DatasetSpec(kind="dollar_street", path=dollar_street(root)),
    "cvqa": lambda root: DatasetSpec(kind="cvqa", path=write_release(root, cvqa_rows())),
    "cvqa_local": lambda root: DatasetSpec(kind="cvqa_local", path=write_release(root, cvqa_rows())),
    "crope": _crope,
    "globalrg_grounding": _grounding,
    "globalrg_retrieval": _retrieval,
}


def test_the_table_covers_every_registered_kind():
    assert sorted(KINDS) == list_kinds()


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return Encoder(create_clip("config:test-clip"), EmbeddingCache(None, "contract"), batch_size=4, workers=0)


def _probed(data: EvalDataset) -> bool:
    """Whether the linear probe can fit here: 2 classes or more with 2 images each to fit on (or to split)."""
    fit = data.train or data
    counts = Counter(it.label for it in fit.items if it.label is not None)
    return len(counts) >= 2 and min(counts.values()) >= 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_runs_every_task_its_fields_support(kind, encoder, tmp_path):
    spec = KINDS[kind](tmp_path / kind)
    supported = load_dataset(spec.model_copy(update={"tasks": ["linear_probe"]})).supported_tasks()
    data = load_dataset(spec.model_copy(update={"tasks": list(supported)}))
    assert data.items and set(data.default_tasks()) <= set(supported), (data.default_tasks(), supported)
    features, failed = encoder.images([it.image for it in data.items])
    assert not failed and len(features) == len(data.items)
    for task in [t for t in supported if t != "linear_probe" or _probed(data)]:
        result = run_task(task, data, features, encoder)
        captions = sum(len(it.captions) for it in data.items) if task == "retrieval" else 0
        units = len(data.items) + captions  # an image, or a caption for text-to-image retrieval
        assert result.records and len(result.records) <= units, (task, len(result.records), units)
        numbers = [v for v in result.metrics.values() if isinstance(v, int | float)]
        assert numbers and all(math.isfinite(v) for v in numbers), (task, result.metrics)
        for name in result.paired:  # the mean of the records that carry it
            values = [r[name] for r in result.records if name in r]
            assert values and result.metrics[name] == pytest.approx(sum(values) / len(values)), (task, name)
