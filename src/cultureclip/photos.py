"""Real photos in the main job: zero-shot accuracy on held-out photos.

General ability on photos is the zero-shot accuracy on the Fashion-MNIST test split, which no stage trains on
(the alignment photos are extra training data, see `importers.fashion_mnist`).
"""

import torch
import torch.nn.functional as F

from cultureclip.backends.clip import ClipModel
from cultureclip.config import PhotosConfig
from cultureclip.data.mnist_idx import ClassDataset, draw, load_fashion_mnist
from cultureclip.data.text import article
from cultureclip.eval.zeroshot import embed_images, embed_texts

PREFIX = "fmnist"
"""Metric names of the photo check: fmnist_acc, fmnist_per_class."""


def load_photo_test(cfg: PhotosConfig, seed: int) -> ClassDataset:
    """The held-out photos: the Fashion-MNIST test split, or `cfg.test_images` of it."""
    data = load_fashion_mnist(cfg.root, "test")
    keep = draw(cfg.test_images, len(data), seed)
    return ClassDataset(data.name, data.images[keep], data.labels[keep], data.classnames, data.templates)


@torch.inference_mode()
def zero_shot(model: ClipModel, data: ClassDataset, batch_size: int) -> dict:
    """Top-1 zero-shot accuracy, overall and per class; each class is its prompt ensemble (CLIP's averaging)."""
    model.model.eval()
    prompts = [t.format(c=c, a=article(c)) for c in data.classnames for t in data.templates]
    texts = embed_texts(model, prompts, batch_size).reshape(len(data.classnames), len(data.templates), -1)
    weights = F.normalize(F.normalize(texts, dim=-1).mean(dim=1), dim=-1)
    images = embed_images(model, [data.image(i) for i in range(len(data))], batch_size)
    labels = torch.from_numpy(data.labels)
    hits = (images @ weights.T).argmax(dim=1) == labels
    per_class = {c: hits[labels == k].float().mean().item() for k, c in enumerate(data.classnames)}
    return {f"{PREFIX}_acc": hits.float().mean().item(), f"{PREFIX}_per_class": per_class, f"{PREFIX}_n": len(data)}


def photo_notes(metrics: dict[str, dict], data: ClassDataset) -> list[str]:
    """The report's table of photo accuracy per model, with the change against base."""
    base = metrics.get("base", {}).get(f"{PREFIX}_acc")
    lines = [
        "",
        f"**General ability on real photos**: zero-shot accuracy on {len(data):,} Fashion-MNIST test photos "
        "(never trained on), prompt ensemble of the dataset's templates.",
        "",
        f"| model | {PREFIX}_acc | change against base |",
        "|---|---:|---:|",
    ]
    for name, values in metrics.items():
        delta = "" if base is None or name == "base" else f"{values[f'{PREFIX}_acc'] - base:+.3f}"
        lines.append(f"| {name} | {values[f'{PREFIX}_acc']:.3f} | {delta} |")
    return lines


def stage_notes(seconds: dict[str, float]) -> list[str]:
    """The report's table of wall time per stage of this invocation."""
    lines = ["", "## Wall time per stage (this invocation)", "", "| stage | seconds |", "|---|---:|"]
    return lines + [f"| {stage} | {value:.1f} |" for stage, value in seconds.items()]
