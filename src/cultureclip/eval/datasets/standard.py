"""Standard datasets by their CLIP_benchmark names (cifar10, imagenet1k, mnist, ...), read from the
user's local copy with CLIP_benchmark's own builder (never downloaded here), with its class names
and prompt-template ensembles, so numbers line up with CLIP_benchmark's."""

from dataclasses import dataclass
from typing import Any

from PIL import Image

from cultureclip.config import DatasetSpec
from cultureclip.errors import ConfigError, DataError, MissingDependencyError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem, pixel_digest


@dataclass(frozen=True, eq=False)
class IndexedImage:
    """Image `index` of a map-style dataset that yields (PIL image, label)."""

    dataset: Any
    index: int

    @property
    def name(self) -> str:
        return f"#{self.index}"

    def digest(self) -> str:
        return pixel_digest(self.open())

    def open(self) -> Image.Image:
        return self.dataset[self.index][0]


@register("clip_benchmark")
def load_standard(spec: DatasetSpec) -> EvalDataset:
    if not spec.dataset:
        raise ConfigError("dataset kind clip_benchmark needs `dataset`: a CLIP_benchmark name such as cifar10")
    try:
        from clip_benchmark.datasets.builder import build_dataset, get_dataset_default_task
    except ImportError:
        raise MissingDependencyError("CLIP_benchmark datasets need: pip install clip-benchmark") from None
    if get_dataset_default_task(spec.dataset) != "zeroshot_classification":
        raise ConfigError(f"CLIP_benchmark dataset {spec.dataset!r}: only classification datasets are supported")
    try:
        ds = build_dataset(spec.dataset, root=str(spec.path), transform=None, split=spec.split, download=False)
    except (RuntimeError, OSError, AssertionError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{spec.path}: no local copy of CLIP_benchmark dataset {spec.dataset!r} ({reason})") from None
    if not isinstance(ds.templates, list):
        raise ConfigError(f"CLIP_benchmark dataset {spec.dataset!r}: per-class prompts are not supported")
    targets = getattr(ds, "targets", None)
    labels = [int(t) for t in targets] if targets is not None else [int(ds[i][1]) for i in range(len(ds))]
    items = [EvalItem(str(i), IndexedImage(ds, i), label) for i, label in enumerate(labels)]
    classes, templates = list(ds.classes), list(ds.templates)
    return EvalDataset(spec.dataset, items, classes, templates, tasks=("classification",), split=spec.split)
