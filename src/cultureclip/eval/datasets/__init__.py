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
    with spec.sample only that many items, drawn with spec.seed, and, when linear_probe is asked for, the
    split the probe fits on (see `probe_train`)."""
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
    data.probe = spec.probe
    if "linear_probe" in (spec.tasks or ()):
        data.train = probe_train(spec, data)
    return data


def probe_train(spec: DatasetSpec, data: EvalDataset) -> EvalDataset | None:
    """The items the linear probe fits on: the kind's `probe.train_split`, or None where the kind has no
    splits (the probe then holds out a share of `data` itself)."""
    split = spec.probe.train_split
    if data.split is None or split is None:
        return None
    if split == data.split:
        raise ConfigError(
            f"dataset {data.name}: probe.train_split is the evaluated split {split!r}: the linear probe would "
            "score the images it was fitted on"
        )
    return DATASETS.create(spec.kind, spec.model_copy(update={"split": split}))


def list_kinds() -> list[str]:
    _import_kinds()
    return DATASETS.list()


def _import_kinds() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
