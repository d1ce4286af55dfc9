"""The linear-probe task: exact results on hand-set features, the train split really used, its interval,
its train split per dataset kind, and `cultureclip eval` running it on a tiny folder."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.config import DatasetSpec, ProbeSpec
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.datasets import load_dataset
from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem
from cultureclip.eval.tasks import run_task
from cultureclip.eval.tasks.linear_probe import probe_split
from helpers.idx import write_idx

E = torch.eye(3)


class ImageTable:
    """Encoder stand-in: each image (by name) -> a fixed vector; remembers what it was asked to encode."""

    def __init__(self, table: dict[str, torch.Tensor]):
        self.table, self.asked = table, []

    def images(self, refs):
        self.asked += [r.name for r in refs]
        return torch.stack([self.table[r.name] for r in refs]), {}


def _data(name, points, classes=("a", "b"), **kw):
    """A dataset of (id, label, vector) points, and the table of their vectors."""
    items = [EvalItem(i, BytesImage(b"", i), label, culture=f"c{label}") for i, label, _ in points]
    return EvalDataset(name, items, list(classes), **kw), {i: v for i, _, v in points}


def _cluster(prefix, label, centre, n):
    return [(f"{prefix}{label}{k}", label, centre + 0.05 * k * E[2]) for k in range(n)]


def _probe(train_points, test_points, probe=None):
    train, table = _data("train", train_points)
    test, test_table = _data("test", test_points, train=train, probe=probe or ProbeSpec(bootstrap=500))
    encoder = ImageTable(table | test_table)
    features = torch.stack([test_table[it.id] for it in test.items])
    return run_task("linear_probe", test, features, encoder), encoder


def test_separable_classes_are_all_right():
    train = _cluster("tr", 0, E[0], 4) + _cluster("tr", 1, E[1], 4)
    test = _cluster("te", 0, E[0], 3) + _cluster("te", 1, E[1], 1)
    result, encoder = _probe(train, test)
    m = result.metrics
    assert [r["pred"] for r in result.records] == ["a", "a", "a", "b"]
    assert m["probe_acc"] == 1.0 and m["probe_acc_ci95"] == [1.0, 1.0] and m["mean_per_class"] == 1.0
    assert m["n"] == 4 and m["n_train"] == 8 and m["per_culture"] == {"c0": 1.0, "c1": 1.0}
    assert result.paired == ("probe_acc",) and encoder.asked == [i for i, _, _ in train]


def test_inseparable_classes_fall_back_to_the_majority():
    same = E[0] + E[1]
    train = [(f"tr{k}", 0, same) for k in range(3)] + [("tr3", 1, same)]
    test = [("te0", 0, same), ("te1", 0, same), ("te2", 1, same), ("te3", 1, same)]
    result, _ = _probe(train, test)
    assert [r["pred"] for r in result.records] == ["a"] * 4
    assert result.metrics["probe_acc"] == 0.5 and result.metrics["per_class"] == {"a": 1.0, "b": 0.0}
    low, high = result.metrics["probe_acc_ci95"]
    assert low < 0.5 < high


def test_fits_on_the_train_split_not_on_the_scored_labels():
    """Train labels swapped against the test's: a probe fitted on the train split gets every test image wrong."""
    train = _cluster("tr", 1, E[0], 4) + _cluster("tr", 0, E[1], 4)
    test = _cluster("te", 0, E[0], 2) + _cluster("te", 1, E[1], 2)
    result, _ = _probe(train, test)
    assert result.metrics["probe_acc"] == 0.0


def test_without_a_train_split_a_stratified_share_is_held_out():
    points = _cluster("x", 0, E[0], 5) + _cluster("x", 1, E[1], 5)
    data, table = _data("d", points, probe=ProbeSpec(test_share=0.4, seed=3, bootstrap=0))
    encoder = ImageTable(table)
    result = run_task("linear_probe", data, torch.stack([table[i] for i, _, _ in points]), encoder)
    scored = [r["id"] for r in result.records]
    assert len(scored) == 4 and sorted(r["label"] for r in result.records) == ["a", "a", "b", "b"]
    assert set(scored).isdisjoint(encoder.asked) and set(scored) | set(encoder.asked) == set(table)
    assert result.metrics["n_train"] == 6 and result.metrics["probe_acc_ci95"] is None
    fit, positions = probe_split(data)  # the same seed, the same split
    assert [data.items[i].id for i in positions] == scored and len(fit.items) == 6


def test_train_sample_caps_the_fitted_items():
    data, _ = _data("d", _cluster("x", 0, E[0], 6) + _cluster("x", 1, E[1], 6), probe=ProbeSpec(train_sample=4))
    fit, positions = probe_split(data)
    assert len(fit.items) == 4 and len(positions) == 6


def test_a_class_too_small_to_split_is_one_line():
    data, _ = _data("tiny", [("x0", 0, E[0]), ("x1", 0, E[0]), ("x2", 1, E[1])])
    with pytest.raises(DataError, match="dataset tiny: cannot hold out a probe test share"):
        probe_split(data)


def _shard_rows(split, n):
    return [
        {"key": f"{c}-{split}-{k}", "split": split, "concept_id": c, "name": c, "culture": c, "category": "dish"}
        | {"generic": "dumpling", "twin_group": "g", "twin_ids": [], "caption": c}
        for c in ("gyoza", "mandu")
        for k in range(n)
    ]


def test_shards_fit_on_their_train_split(tmp_path):
    entries = []
    for split, n in (("train", 3), ("test", 2)):
        samples = [Sample(r, Image.new("RGB", (8, 8), (i * 20, 0, 0))) for i, r in enumerate(_shard_rows(split, n))]
        entries += write_split(tmp_path, split, samples, 10)
    write_manifest(tmp_path, entries)
    data = load_dataset(DatasetSpec(kind="shards", path=tmp_path, tasks=["linear_probe"]))
    assert data.split == "test" and data.train.split == "train"
    assert len(data.train.items) == 6 and all("-train-" in it.id for it in data.train.items)
    assert load_dataset(DatasetSpec(kind="shards", path=tmp_path)).train is None  # not asked: not loaded
    with pytest.raises(ConfigError, match="probe.train_split is the evaluated split 'test'"):
        load_dataset(DatasetSpec(kind="shards", path=tmp_path, tasks=["linear_probe"], probe={"train_split": "test"}))


def test_fashion_mnist_fits_on_its_train_files(tmp_path):
    for prefix, n in (("train", 4), ("t10k", 2)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", np.zeros((n, 2, 2), np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 2)
    data = load_dataset(DatasetSpec(kind="fashion_mnist", path=tmp_path, tasks=["linear_probe"]))
    assert [it.id for it in data.items] == ["test-00000", "test-00001"]
    assert [it.id for it in data.train.items] == [f"train-{k:05d}" for k in range(4)]


def test_eval_cli_runs_the_probe_on_a_folder(tmp_path):
    for label, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        for k in range(4):
            path = tmp_path / "imgs" / label / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), tuple(min(255, c + 10 * k) for c in colour)).save(path)
    torch.manual_seed(0)
    create_clip("config:test-clip").save(tmp_path / "m")
    out = tmp_path / "out"
    spec = {"kind": "folder", "path": str(tmp_path / "imgs"), "tasks": ["linear_probe"], "probe": {"bootstrap": 100}}
    argv = ["compare", "--out", str(out), "--models", f"a=local:{tmp_path / 'm'},b=local:{tmp_path / 'm'}"]
    argv += [f"eval.datasets={json.dumps([spec])}", f"eval.cache_dir={tmp_path / 'cache'}", "eval.workers=0"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    probe = metrics["results"]["a"]["imgs"]["linear_probe"]
    assert probe["n"] == 4 and probe["n_train"] == 4
    assert probe["probe_acc_ci95"][0] <= probe["probe_acc"] <= probe["probe_acc_ci95"][1]
    assert metrics["results"]["b"]["imgs"]["linear_probe"] == probe  # the same model: the same fit
    assert metrics["deltas"]["b"]["imgs"]["linear_probe"]["probe_acc"]["delta"] == 0.0
    assert metrics["models"]["b"]["encoded"]["images"] == 0  # train and test features came from the cache
    report = (out / "report.md").read_text()
    assert "## imgs: linear_probe" in report and f"| probe_acc | {probe['probe_acc']:.3f} [" in report
