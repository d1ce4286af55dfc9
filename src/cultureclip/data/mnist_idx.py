"""The MNIST file layout, and Fashion-MNIST on it: an idx reader and the dataset's names and prompts.

The layout (the original releases, torchvision's raw folder and Debian's `dataset-fashion-mnist` all use
it) is four idx files in one folder, gzipped or not:
  train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]  t10k-images-idx3-ubyte[.gz]  t10k-labels-idx1-ubyte[.gz]
An idx file is a big-endian header (two zero bytes, a type code, the number of dimensions, each size
as int32) followed by the values. Fashion-MNIST: https://github.com/zalandoresearch/fashion-mnist (MIT).
Both the alignment importer and the evaluator read it from here.
"""

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cultureclip.errors import ConfigError, DataError

ROOT_ENV = "CULTURECLIP_FASHION_MNIST"
"""Environment variable naming the Fashion-MNIST folder when no root is configured."""
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
MAX_IDX_BYTES = 1 << 30
"""The most values' bytes an idx file may declare (Fashion-MNIST's largest holds 47 MB)."""
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ClassDataset:
    """Labelled images for zero-shot classification: images[i] shows classnames[labels[i]]."""

    name: str
    images: np.ndarray
    """uint8, (N, H, W) grey or (N, H, W, 3) colour."""
    labels: np.ndarray
    classnames: tuple[str, ...]
    templates: tuple[str, ...]
    """Prompt templates: `{c}` is the class name, `{a}` its article."""

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int) -> Image.Image:
        return Image.fromarray(self.images[i]).convert("RGB")


FASHION_MNIST_CLASSES = (
    "T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
"""The standard names of labels 0-9 (the dataset's README and torchvision, lower-cased except T-shirt)."""
FASHION_MNIST_KINDS = (
    "top", "garment", "top", "garment", "garment", "shoe", "top", "shoe", "accessory", "shoe",
)  # fmt: skip
"""What each class is a kind of, for generic captions: 'a photo of a sneaker, a kind of shoe.'"""
FASHION_MNIST_TEMPLATES = (
    "a photo of {a} {c}.",
    "a black and white photo of {a} {c}.",
    "a low resolution photo of {a} {c}.",
    "a photo of the {c}, a type of clothing.",
    "a centered photo of {a} {c}.",
)
"""Prompt ensemble: CLIP's generic templates adapted to small grey product photos."""


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (gzipped if its name ends in .gz) into an array of its declared type and shape.

    The file is decompressed as it is read, no further than the size its header declares (at most
    MAX_IDX_BYTES), so a gzip bomb costs no more memory than an honest file."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            return _read_idx(path, f)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(f"{path}: cannot read idx file ({err})") from None


def _read_idx(path: Path, f) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    ndim = magic[3]
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{path}: idx header is truncated")
    shape = tuple(int(n) for n in np.frombuffer(dims, ">i4", ndim))
    dtype = np.dtype(IDX_TYPES[magic[2]])
    size = dtype.itemsize * int(np.prod(shape, dtype=object))
    if min(shape, default=0) < 0 or size > MAX_IDX_BYTES:
        raise DataError(f"{path}: the header declares {shape} values, over the {MAX_IDX_BYTES:,} bytes read")
    raw = f.read(size + 1)
    if len(raw) != size:
        header = 4 + 4 * ndim
        found = f"{header + len(raw)} bytes" if len(raw) < size else "more bytes"
        raise DataError(f"{path}: {found} but the header {shape} needs {header + size}")
    return np.frombuffer(raw, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{root}: {stem}[.gz] is missing (expected the MNIST file layout)")


def load_mnist_layout(
    root: Path, split: str, classnames: tuple[str, ...], templates: tuple[str, ...], name: str = "mnist"
) -> ClassDataset:
    """One split ('train' or 'test') of a dataset in the MNIST file layout under `root`."""
    root = Path(root)
    if split not in SPLIT_PREFIX:
        raise ConfigError(f"{name}: unknown split {split!r}; known: {', '.join(SPLIT_PREFIX)}")
    images_path = _idx_file(root, f"{SPLIT_PREFIX[split]}-images-idx3-ubyte")
    labels_path = _idx_file(root, f"{SPLIT_PREFIX[split]}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{images_path}: {images.shape} images do not match {labels.shape} labels in {labels_path}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classnames)):
        raise DataError(f"{labels_path}: labels outside 0..{len(classnames) - 1}")
    return ClassDataset(name, images.astype(np.uint8), labels.astype(np.int64), classnames, templates)


def fashion_mnist_root(root: Path | None = None) -> Path:
    """The configured folder, else the one the CULTURECLIP_FASHION_MNIST variable names."""
    if root is None:
        if not os.environ.get(ROOT_ENV):
            raise ConfigError(
                f"Fashion-MNIST: no root folder; set {ROOT_ENV}, or the dataset's path in the config, to the folder "
                "holding train-images-idx3-ubyte.gz and friends (https://github.com/zalandoresearch/fashion-mnist)"
            )
        root = Path(os.environ[ROOT_ENV])
    if not Path(root).is_dir():
        raise DataError(f"Fashion-MNIST root {root}: no such folder")
    return Path(root)


def load_fashion_mnist(root: Path | None, split: str) -> ClassDataset:
    """Fashion-MNIST (60,000 train / 10,000 test 28x28 grey product photos, 10 classes)."""
    return load_mnist_layout(
        fashion_mnist_root(root), split, FASHION_MNIST_CLASSES, FASHION_MNIST_TEMPLATES, "fashion-mnist"
    )
