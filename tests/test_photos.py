import json

import numpy as np
import pytest

from cultureclip.cli import main
from cultureclip.data.shards import read_manifest
from cultureclip.eval.datasets import draw
from cultureclip.eval.datasets.mnist import load_fashion_mnist
from cultureclip.photos import photo_rows
from test_mnist import write_idx

TRAIN_LABELS = [7, 0, 9, 7, 1, 2]
TEST_LABELS = [7, 7, 0, 9]


@pytest.fixture
def photo_root(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, labels in (("train", TRAIN_LABELS), ("t10k", TEST_LABELS)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (len(labels), 28, 28), np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.array(labels, np.uint8))
    return tmp_path


def test_draw_is_seeded_distinct_and_sorted():
    assert draw(None, 5, 0).tolist() == [0, 1, 2, 3, 4] and draw(9, 5, 0).tolist() == [0, 1, 2, 3, 4]
    picked = draw(3, 100, 7)
    assert picked.tolist() == draw(3, 100, 7).tolist() and len(set(picked.tolist())) == 3
    assert picked.tolist() == sorted(picked.tolist()) and picked.tolist() != draw(3, 100, 8).tolist()


def test_photos_become_rows_with_generic_captions(photo_root):
    data = load_fashion_mnist(photo_root, "train")
    samples = photo_rows(data, np.array([0, 1, 2]), "a photo of {a} {c}, a kind of {kind}.")
    assert [s.row["caption"] for s in samples] == [
        "a photo of a sneaker, a kind of shoe.",
        "a photo of a T-shirt/top, a kind of top.",
        "a photo of an ankle boot, a kind of shoe.",
    ]
    assert [s.row["concept_id"] for s in samples] == ["fashion-mnist/sneaker", "fashion-mnist/T-shirt/top",
                                                      "fashion-mnist/ankle boot"]  # fmt: skip
    assert samples[2].row["generic_caption"] == samples[2].row["caption"] and samples[2].row["twin_ids"] == []
    assert np.array_equal(np.asarray(samples[1].image)[..., 0], data.images[1])


def test_a_run_with_photos_aligns_on_them_and_reports_them(photo_root, tmp_path):
    out = tmp_path / "run"
    photos = f"photos={{root: {photo_root}, align_images: 4}}"
    test = f"eval.extra_datasets=[{{kind: fashion_mnist, path: {photo_root}}}, {photo_root_sample(photo_root)}]"
    short = ["pretrain.steps=4", "finetune.steps=2", "ablations={no_preserve: {loss.preserve: 0}, tuned_plain: null}"]
    assert main(["run", "--config", "tiny", "--out", str(out), photos, test, *short]) == 0
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
    rows = read_manifest(out / "align_data")
    photos_rows = [r for r in rows if r["category"] == "fashion-mnist"]
    assert len(photos_rows) == 4 and len(rows) == 4 + 14 * 6  # 14 concepts x 6 world training images
    report = (out / "report.md").read_text()
    assert (
        "## fashion-mnist (4 images, `fashion_mnist`)" in report and "| no_preserve | classification | top1 |" in report
    )
    assert "## Wall time per stage" in report


def photo_root_sample(root):
    """Three of the four test photos, drawn with seed 5, under another name."""
    return f"{{kind: fashion_mnist, path: {root}, name: three, sample: 3, seed: 5}}"
