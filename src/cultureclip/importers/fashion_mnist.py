"""Import Fashion-MNIST train photos into our dataset format, as extra training data (`extra_data`).

Each photo becomes one training sample of its class: one "concept" per class, no twins, and a generic
caption used as both captions ("a photo of a sneaker, a kind of shoe."). The lite-towers preset adds them
to the world's training images to align pretrained towers into a CLIP on real photos.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import ExtraDataConfig, ShardImageConfig, dump_config
from cultureclip.data.mnist_idx import FASHION_MNIST_KINDS, ClassDataset, load_fashion_mnist
from cultureclip.data.row import dataset_row
from cultureclip.data.sample import draw
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.data.text import article
from cultureclip.io import atomic_path, is_finished, mark_done

log = logging.getLogger(__name__)
IMPORT_RECORD = "import_config.yaml"
SHARD_SIZE = 5000
LOSSLESS = ShardImageConfig(format="png")
"""28-px greyscale photos: PNG keeps them exact at about JPEG's size."""


def photo_rows(data: ClassDataset, indices: list[int], template: str) -> Iterator[Sample]:
    """Photos of `data` as training rows of the train split, captioned with `template` ({c}, {a}, {kind}),
    one at a time (each image made only when it is asked for)."""
    for i in indices:
        name = data.classnames[data.labels[i]]
        caption = template.format(c=name, a=article(name), kind=FASHION_MNIST_KINDS[data.labels[i]])
        concept = f"{data.name}/{name}"
        row = dataset_row(
            key=f"{data.name}-train-{int(i):05d}",
            split="train",
            concept_id=concept,
            name=name,
            culture="",
            category=data.name,
            generic=name,
            twin_group=concept,
            twin_ids=[],
            caption=caption,
            generic_caption=caption,
            seed=int(i),
            source="photo",
        )
        yield Sample(row, data.image(int(i)))


def import_fashion_mnist(spec: ExtraDataConfig, folder: Path, seed: int) -> Path:
    """Write `spec.count` train photos (drawn with `seed`) into `folder` as a train split; skip if done."""
    record = f"seed: {seed}\n" + dump_config(spec)
    if is_finished(folder, IMPORT_RECORD, record):
        return folder
    data = load_fashion_mnist(spec.path, "train")
    indices = draw(spec.count, len(data), seed).tolist()
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        (tmp / IMPORT_RECORD).write_text(record)
        samples = photo_rows(data, indices, spec.template)
        write_manifest(tmp, write_split(tmp, "train", samples, SHARD_SIZE, images=LOSSLESS))
        mark_done(tmp, "import fashion_mnist")
    log.info("imported %d Fashion-MNIST photos into %s", len(indices), folder)
    return folder
