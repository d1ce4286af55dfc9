"""General zero-shot classification, the "preserved generalization" check: over the items' generic
kinds ("a photo of a dumpling.") when the data has them, else over the dataset's own classes.
Reported as `general_acc` (top-1) with top-5 and per-class accuracy."""

import torch

from cultureclip.eval.tasks import TaskResult, class_embeddings, class_prompts, register
from cultureclip.eval.tasks.classification import score


def label_view(data) -> tuple[list[str], list[int], list[str]]:
    """(classes, each item's label, templates): the generic kinds when every item has one."""
    if all(it.generic for it in data.items):
        classes = sorted({it.generic for it in data.items})
        return classes, [classes.index(it.generic) for it in data.items], data.generic_templates
    return data.classes, [it.label for it in data.items], data.templates


def _prompts(data) -> list[str]:
    classes, _, templates = label_view(data)
    return class_prompts(classes, templates)


@register("general", prompts=_prompts)
def evaluate(data, image_features: torch.Tensor, encoder) -> TaskResult:
    classes, labels, templates = label_view(data)
    result = score(data, image_features @ class_embeddings(encoder, classes, templates).T, labels, classes)
    for r in result.records:
        r["general_acc"] = r.pop("top1")
    result.metrics = {"general_acc": result.metrics.pop("top1"), **result.metrics}
    result.paired = ("general_acc", "top5")
    return result
