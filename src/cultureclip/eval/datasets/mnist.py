"""Fashion-MNIST as an evaluation dataset kind (`--data fashion_mnist:ROOT`), read by `data.mnist_idx`."""

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cultureclip.config import DatasetSpec
from cultureclip.data.mnist_idx import load_fashion_mnist
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem


@dataclass(frozen=True, eq=False)
class ArrayImage:
    """One image of an in-memory uint8 array, as the evaluator's ImageRef."""

    array: np.ndarray
    name: str

    def digest(self) -> str:
        return hashlib.sha256(str(self.array.shape).encode() + self.array.tobytes()).hexdigest()

    def open(self) -> Image.Image:
        return Image.fromarray(self.array)


@register("fashion_mnist")
def fashion_mnist_dataset(spec: DatasetSpec) -> EvalDataset:
    """`--data fashion_mnist:ROOT`: a split of Fashion-MNIST for zero-shot classification."""
    data = load_fashion_mnist(spec.path, spec.split)
    items = [
        EvalItem(f"{spec.split}-{i:05d}", ArrayImage(data.images[i], f"{spec.split}#{i}"), int(label))
        for i, label in enumerate(data.labels)
    ]
    classes, templates = list(data.classnames), list(data.templates)
    return EvalDataset(data.name, items, classes, templates, tasks=("classification",), split=spec.split)
