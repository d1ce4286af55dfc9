"""Real photos in the main job: alignment data for pretrained towers.

Alignment (the `pretrain` stage of a towers:NAME model) trains on the world's training images with their
generic captions plus Fashion-MNIST train photos with generic captions ("a photo of a sneaker, a kind of
shoe."), written as an ordinary dataset folder, so the existing trainer loads it like any other.
(General ability on photos is an entry of `eval.extra_datasets`: the Fashion-MNIST test split.)
"""

import logging
from pathlib import Path

import numpy as np

from cultureclip.config import PhotosConfig, dump_config
from cultureclip.data.shards import Sample, read_split, write_manifest, write_split
from cultureclip.data.text import article
from cultureclip.eval.datasets import draw
from cultureclip.eval.datasets.mnist import FASHION_MNIST_KINDS, ClassDataset, load_fashion_mnist
from cultureclip.io import atomic_path, is_finished, mark_done

log = logging.getLogger(__name__)
ALIGN_RECORD = "align_config.yaml"


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
