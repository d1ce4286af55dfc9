import os
from pathlib import Path

import numpy as np
import pytest

from cultureclip.data.mnist_idx import (
    FASHION_MNIST_CLASSES,
    ROOT_ENV,
    load_fashion_mnist,
    load_mnist_layout,
    read_idx,
)
from cultureclip.data.sample import draw
from cultureclip.errors import ConfigError, DataError
from helpers.idx import write_idx


@pytest.fixture
def tiny_layout(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) * 4
    labels = np.array([7, 0, 9], dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)  # plain and gzipped files both read
    return tmp_path, images, labels


def test_the_importer_returns_the_exact_pixels_and_labels(tiny_layout):
    root, images, labels = tiny_layout
    data = load_mnist_layout(root, "test", FASHION_MNIST_CLASSES, ("a photo of a {c}.",))
    assert np.array_equal(data.images, images) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [7, 0, 9] and len(data) == 3
    assert [data.classnames[i] for i in data.labels] == ["sneaker", "T-shirt/top", "ankle boot"]
    pil = data.image(2)
    assert pil.mode == "RGB" and pil.size == (5, 4) and pil.getpixel((4, 3)) == (images[2, 3, 4],) * 3


def test_read_idx_reads_wider_types_big_endian(tmp_path):
    values = np.array([[1, -2], [300, 70000]], dtype=np.int32)
    write_idx(tmp_path / "x-idx2-int", values, type_code=0x0C)
    assert read_idx(tmp_path / "x-idx2-int").tolist() == [[1, -2], [300, 70000]]


def test_bad_files_are_clear_errors(tiny_layout, tmp_path):
    root, _, _ = tiny_layout
    with pytest.raises(DataError, match="train-images-idx3-ubyte\\[.gz\\] is missing"):
        load_mnist_layout(root, "train", FASHION_MNIST_CLASSES, ())
    (root / "bad").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(DataError, match="bad: not an idx file"):
        read_idx(root / "bad")
    write_idx(root / "short", np.zeros((2, 2), np.uint8))
    (root / "short").write_bytes((root / "short").read_bytes()[:-1])
    with pytest.raises(DataError, match=r"short: 15 bytes but the header \(2, 2\) needs 16"):
        read_idx(root / "short")
    write_idx(root / "t10k-labels-idx1-ubyte", np.array([1, 2], np.uint8))
    with pytest.raises(DataError, match="do not match"):
        load_mnist_layout(root, "test", FASHION_MNIST_CLASSES, ())
    write_idx(root / "t10k-labels-idx1-ubyte", np.array([1, 2, 10], np.uint8))
    with pytest.raises(DataError, match="labels outside 0..9"):
        load_mnist_layout(root, "test", FASHION_MNIST_CLASSES, ())


def test_the_root_comes_from_the_config_or_the_environment(tiny_layout, monkeypatch):
    root, _, _ = tiny_layout
    monkeypatch.delenv(ROOT_ENV, raising=False)
    with pytest.raises(ConfigError, match=ROOT_ENV):
        load_fashion_mnist(None, "test")
    assert len(load_fashion_mnist(root, "test")) == 3
    monkeypatch.setenv(ROOT_ENV, str(root))
    assert load_fashion_mnist(None, "test").name == "fashion-mnist"
    with pytest.raises(DataError, match="no such folder"):
        load_fashion_mnist(root / "nowhere", "test")


def test_draw_is_seeded_distinct_and_sorted():
    assert draw(None, 5, 0).tolist() == [0, 1, 2, 3, 4] and draw(9, 5, 0).tolist() == [0, 1, 2, 3, 4]
    picked = draw(3, 100, 7)
    assert picked.tolist() == draw(3, 100, 7).tolist() and len(set(picked.tolist())) == 3
    assert picked.tolist() == sorted(picked.tolist()) and picked.tolist() != draw(3, 100, 8).tolist()


@pytest.mark.skipif(not os.environ.get(ROOT_ENV), reason=f"{ROOT_ENV} is not set (the real Fashion-MNIST files)")
def test_the_real_fashion_mnist_test_split():
    data = load_fashion_mnist(None, "test")
    assert data.images.shape == (10000, 28, 28)
    assert np.bincount(data.labels).tolist() == [1000] * 10


def test_fashion_mnist_is_a_registered_eval_dataset(tiny_layout):
    from cultureclip.config import DatasetSpec
    from cultureclip.eval.datasets import load_dataset

    root, images, _ = tiny_layout
    data = load_dataset(DatasetSpec(kind="fashion_mnist", path=root, split="test"))
    assert data.name == "fashion-mnist" and data.classes[7] == "sneaker" and data.tasks == ("classification",)
    assert [it.label for it in data.items] == [7, 0, 9]
    assert np.array_equal(np.asarray(data.items[2].image.open()), images[2])
    assert data.items[0].image.digest() != data.items[1].image.digest()
