"""Zero-shot classification over a label set: each class is a prompt-template ensemble; top-1,
top-5, per-class accuracy and its mean, per category and per culture."""

import torch

from cultureclip.eval.tasks import TaskResult, breakdown, class_embeddings, class_prompts, mean, register

TOP = 5


@register("classification", prompts=lambda data: class_prompts(data.classes, data.templates))
def evaluate(data, image_features: torch.Tensor, encoder) -> TaskResult:
    weights = class_embeddings(encoder, data.classes, data.templates)
    labels = [it.label for it in data.items]
    return score(data, image_features @ weights.T, labels, data.classes)


def score(data, logits: torch.Tensor, labels: list[int], classes: list[str]) -> TaskResult:
    """Top-1/top-k records and metrics for `logits` (images x classes) against `labels`."""
    ranked = logits.topk(min(TOP, len(classes)), dim=1).indices.tolist()
    records = [
        {
            "id": it.id,
            "label": classes[label],
            "pred": classes[top[0]],
            "top1": int(top[0] == label),
            "top5": int(label in top),
            "category": it.category,
            "culture": it.culture,
        }
        for it, label, top in zip(data.items, labels, ranked, strict=True)
    ]
    per_class = breakdown(records, "label", "top1")
    metrics = {
        "top1": mean(r["top1"] for r in records),
        "top5": mean(r["top5"] for r in records),
        "mean_per_class": mean(per_class.values()),
        "per_class": per_class,
        "per_category": breakdown(records, "category", "top1"),
        "per_culture": breakdown(records, "culture", "top1"),
        "n": len(records),
    }
    return TaskResult(metrics, records, ("top1", "top5"))
