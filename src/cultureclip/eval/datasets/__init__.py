"""Evaluation datasets by kind: each module here registers a loader `DatasetSpec -> EvalDataset`.

A new kind is one module in this package with one decorator, `@register("kind")` on its loader:
every module of the package is imported when the registry is first used, so nothing else changes.
"""

import importlib
import pkgutil
from collections.abc import Callable

from cultureclip.config import DatasetSpec
from cultureclip.data.sample import draw
from cultureclip.errors import ConfigError
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.registry import Registry

DATASETS: Registry[EvalDataset] = Registry("dataset kind")


def register(kind: str) -> Callable[[Callable[[DatasetSpec], EvalDataset]], Callable[[DatasetSpec], EvalDataset]]:
    """Decorator: make a loader available as `kind` in `eval.datasets` and `--data kind:path`."""
    return DATASETS.register(kind)


def load_dataset(spec: DatasetSpec) -> EvalDataset:
    """Load the dataset a spec names; its report name is spec.name when given, its templates the spec's,
    and with spec.sample only that many items, drawn with spec.seed."""
    _import_kinds()
    if spec.path is None and spec.kind != "fashion_mnist":
        raise ConfigError(f"dataset kind {spec.kind}: needs a path")
    data = DATASETS.create(spec.kind, spec)
    if spec.name:
        data.name = spec.name
    if spec.templates:
        data.templates = list(spec.templates)
    if spec.generic_templates:
        data.generic_templates = list(spec.generic_templates)
    if spec.sample is not None and spec.sample < len(data.items):
        data = data.subset(draw(spec.sample, len(data.items), spec.seed or 0).tolist())
    return data


def list_kinds() -> list[str]:
    _import_kinds()
    return DATASETS.list()


def _import_kinds() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
