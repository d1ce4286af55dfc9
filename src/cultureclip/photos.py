"""Real photos in the main job: alignment data for pretrained towers, and zero-shot accuracy on held-out photos.

Alignment (the `pretrain` stage of a towers:NAME model) trains on the world's training images with their
generic captions plus Fashion-MNIST train photos with generic captions ("a photo of a sneaker, a kind of
shoe."), written as an ordinary dataset folder, so the existing trainer loads it like any other.
General ability on photos is the zero-shot accuracy on the Fashion-MNIST test split, which no stage trains on.
"""

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cultureclip.backends.clip import ClipModel
from cultureclip.config import PhotosConfig, dump_config
from cultureclip.data.shards import Sample, read_split, write_manifest, write_split
from cultureclip.data.text import article
from cultureclip.eval.datasets.mnist import FASHION_MNIST_KINDS, ClassDataset, load_fashion_mnist
from cultureclip.eval.zeroshot import embed_images, embed_texts
from cultureclip.io import atomic_path, is_finished, mark_done

log = logging.getLogger(__name__)
ALIGN_RECORD = "align_config.yaml"
PREFIX = "fmnist"
"""Metric names of the photo check: fmnist_acc, fmnist_per_class."""


def draw(count: int | None, total: int, seed: int) -> np.ndarray:
    """`count` distinct indices out of `total` (all of them, in order, when count is None or too large)."""
    if count is None or count >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))


def photo_rows(data: ClassDataset, indices: np.ndarray, template: str) -> list[Sample]:
    """Fashion-MNIST photos as training rows: one 'concept' per class, no twins, the generic caption twice."""
    samples = []
    for i in indices:
        name = data.classnames[data.labels[i]]
        caption = template.format(c=name, a=article(name), kind=FASHION_MNIST_KINDS[data.labels[i]])
        concept = f"{data.name}/{name}"
        row = {
            "key": f"{data.name}-train-{int(i):05d}",
            "split": "train",
            "concept_id": concept,
            "name": name,
            "culture": "",
            "category": data.name,
            "generic": name,
            "twin_group": concept,
            "twin_ids": [],
            "caption": caption,
            "generic_caption": caption,
            "seed": int(i),
        }
        samples.append(Sample(row, data.image(int(i))))
    return samples


def build_align_data(cfg: PhotosConfig, world: Path, folder: Path, seed: int) -> Path:
    """Write the alignment dataset into `folder`: the world's train split plus the drawn train photos."""
    record = f"world: {world}\nseed: {seed}\n" + dump_config(cfg)
    if is_finished(folder, ALIGN_RECORD, record):
        return folder
    photos = load_fashion_mnist(cfg.root, "train")
    samples = read_split(world, "train") + photo_rows(
        photos, draw(cfg.align_images, len(photos), seed), cfg.align_template
    )
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        (tmp / ALIGN_RECORD).write_text(record)
        write_manifest(tmp, write_split(tmp, "train", samples, shard_size=5000))
        mark_done(tmp)
    log.info("alignment data: %d images (%d photos) in %s", len(samples), cfg.align_images, folder)
    return folder


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
