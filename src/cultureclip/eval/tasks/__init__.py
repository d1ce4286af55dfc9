"""Evaluation tasks by name, each one module with one entry point:
`evaluate(data: EvalDataset, image_features: Tensor, encoder: Encoder) -> TaskResult`,
registered with the texts it will encode (`prompts(data)`), so those can be encoded while the
dataloader workers are still decoding images.

A result holds summary metrics and one JSON-able record per scored unit (an image, or a caption for
text-to-image retrieval); the metrics named in `paired` are means of the same-named record fields,
which is what the comparison bootstraps.
"""

import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from cultureclip.data.text import fill
from cultureclip.registry import Registry

TASKS: Registry["TaskResult"] = Registry("eval task")
_PROMPTS: dict[str, Callable] = {}


@dataclass
class TaskResult:
    metrics: dict
    records: list[dict]
    paired: tuple[str, ...]
    """Metrics that are the mean of the same-named 0/1 field of the records."""
    extra: dict = field(default_factory=dict)
    """Structures for the report that are not metrics (confusion matrices)."""


def register(name: str, prompts: Callable[..., list[str]]) -> Callable:
    """Decorator: make `evaluate` the task `name`; `prompts(data)` lists the texts it will encode."""

    def decorator(evaluate: Callable) -> Callable:
        TASKS.register(name)(evaluate)
        _PROMPTS[name] = prompts
        return evaluate

    return decorator


def run_task(name: str, data, image_features: torch.Tensor, encoder) -> TaskResult:
    _import_tasks()
    return TASKS.create(name, data, image_features, encoder)


def task_prompts(name: str, data) -> list[str]:
    """The texts task `name` will encode on `data` (empty for an unknown name: run_task reports it)."""
    _import_tasks()
    return _PROMPTS[name](data) if name in _PROMPTS else []


def list_tasks() -> list[str]:
    _import_tasks()
    return TASKS.list()


def class_prompts(classes: list[str], templates: list[str]) -> list[str]:
    """Every template filled with every class name and its article, class by class. The name is {c}
    (CLIP_benchmark's templates) or {name} / {generic} (the catalogue's), the article {a} or {article}."""
    return [fill(t, {"c": c, "name": c, "generic": c}) for c in classes for t in templates]


def class_embeddings(encoder, classes: list[str], templates: list[str]) -> torch.Tensor:
    """One vector per class: the normalised mean of its normalised prompt embeddings (CLIP's ensemble)."""
    vectors = encoder.texts(class_prompts(classes, templates)).reshape(len(classes), len(templates), -1)
    vectors = torch.nn.functional.normalize(vectors, dim=-1).mean(dim=1)
    return torch.nn.functional.normalize(vectors, dim=-1)


def breakdown(records: list[dict], by: str, metric: str) -> dict[str, float]:
    """Mean of `metric` per value of the records' field `by` (records without it are left out)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if r.get(by) is not None:
            groups[r[by]].append(r[metric])
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _import_tasks() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
