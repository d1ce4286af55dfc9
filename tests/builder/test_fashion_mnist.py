import json
from pathlib import Path

import numpy as np
import pytest

from cultureclip.builder.recipes.fashion_mnist import import_fashion_mnist
from cultureclip.cli import main
from cultureclip.config import ExtraDataConfig, load_config
from cultureclip.data.mnist_idx import load_fashion_mnist
from cultureclip.data.sample import draw
from cultureclip.data.shards import read_manifest, read_split
from cultureclip.errors import ConfigError
from helpers.idx import write_idx

TRAIN_LABELS = [7, 0, 9, 7, 1, 2]
TEST_LABELS = [7, 7, 0, 9]


@pytest.fixture
def photo_root(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, labels in (("train", TRAIN_LABELS), ("t10k", TEST_LABELS)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (len(labels), 28, 28), np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.array(labels, np.uint8))
    return tmp_path


def test_the_importer_writes_drawn_photos_as_shards_with_generic_captions(photo_root, tmp_path):
    folder = import_fashion_mnist(ExtraDataConfig(kind="fashion_mnist", path=photo_root), tmp_path / "all", 0)
    samples = read_split(folder, "train")
    assert [s.row["caption"] for s in samples[:3]] == [
        "a photo of a sneaker, a kind of shoe.",
        "a photo of a T-shirt/top, a kind of top.",
        "a photo of an ankle boot, a kind of shoe.",
    ]
    assert [s.row["concept_id"] for s in samples[:3]] == ["fashion-mnist/sneaker", "fashion-mnist/T-shirt/top",
                                                          "fashion-mnist/ankle boot"]  # fmt: skip
    assert samples[2].row["generic_caption"] == samples[2].row["caption"] and samples[2].row["twin_ids"] == []
    assert [s.row["key"] for s in samples] == [f"fashion-mnist-train-{i:05d}" for i in range(6)]
    data = load_fashion_mnist(photo_root, "train")
    assert np.array_equal(np.asarray(samples[1].image)[..., 0], data.images[1])
    spec = ExtraDataConfig(kind="fashion_mnist", path=photo_root, count=3, template="{c}")
    drawn = read_split(import_fashion_mnist(spec, tmp_path / "three", 5), "train")
    assert [s.row["seed"] for s in drawn] == draw(3, 6, 5).tolist()
    assert [s.row["caption"] for s in drawn] == [data.classnames[data.labels[i]] for i in draw(3, 6, 5)]


def test_extra_data_is_a_spec_or_kind_and_path():
    cfg = load_config("tiny", ["pretrain.extra_data=[fashion_mnist:/photos, {kind: fashion_mnist, count: 4}]"])
    assert [(e.kind, e.path, e.count) for e in cfg.pretrain.extra_data] == [
        ("fashion_mnist", Path("/photos"), None),
        ("fashion_mnist", None, 4),
    ]
    with pytest.raises(ConfigError, match=r"pretrain\.extra_data\.0\.kind: Input should be 'fashion_mnist'"):
        load_config("tiny", ["pretrain.extra_data=[mnist:/photos]"])


def test_the_lite_towers_preset_aligns_on_8000_train_photos():
    cfg = load_config("lite-towers")
    assert [(e.kind, e.path, e.count) for e in cfg.pretrain.extra_data] == [("fashion_mnist", None, 8000)]
    assert cfg.finetune.extra_data == []
    assert [(d.kind, d.path) for d in cfg.eval.extra_datasets] == [("fashion_mnist", None)]


def test_a_run_with_photos_aligns_on_them_and_reports_them(photo_root, tmp_path):
    out = tmp_path / "run"
    align = f"pretrain.extra_data=[{{kind: fashion_mnist, count: 4, path: {photo_root}}}]"
    test = f"eval.extra_datasets=[{{kind: fashion_mnist, path: {photo_root}}}, {photo_root_sample(photo_root)}]"
    short = ["pretrain.epochs=1", "pretrain.batch_size=4", "finetune.steps=2"]
    ablations = "ablations={no_preserve: {loss.preserve: 0}, tuned_plain: null}"
    assert main(["run", "--config", "tiny", "--out", str(out), align, test, *short, ablations]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["results"]) == ["base", "tuned", "no_preserve"]
    assert set(metrics["stages"]) == {"build", "base", "tuned", "no_preserve", "eval", "total"}
    assert metrics["datasets"]["fashion-mnist"]["items"] == 4 and metrics["datasets"]["three"]["items"] == 3
    for name in ("base", "tuned", "no_preserve"):
        result = metrics["results"][name]["fashion-mnist"]
        assert list(result) == ["classification"] and result["classification"]["n"] == 4
        per_class = result["classification"]["per_class"]
        assert result["classification"]["top1"] == pytest.approx((2 * per_class["sneaker"] + per_class["T-shirt/top"]
                                                                  + per_class["ankle boot"]) / 4)  # fmt: skip
        assert metrics["results"][name]["three"]["classification"]["n"] == 3
    (extra,) = (out / "extra_data").iterdir()
    assert [r["category"] for r in read_manifest(extra)] == ["fashion-mnist"] * 4
    resolved = (out / "models" / "base" / "train_config.resolved.yaml").read_text()
    assert "\nsteps: 22\n" in resolved  # one epoch of 14 concepts x 6 world images + 4 photos, 4 a step
    assert "\nsteps: 2\n" in (out / "models" / "tuned" / "train_config.resolved.yaml").read_text()
    report = (out / "report.md").read_text()
    assert (
        "## fashion-mnist (4 images, `fashion_mnist`)" in report and "| no_preserve | classification | top1 |" in report
    )
    assert "## Wall time per stage" in report


def photo_root_sample(root):
    """Three of the four test photos, drawn with seed 5, under another name."""
    return f"{{kind: fashion_mnist, path: {root}, name: three, sample: 3, seed: 5}}"
