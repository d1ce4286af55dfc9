"""The Fashion-MNIST recipe: train photos as extra training data (`extra_data`).

Each photo becomes one training sample of its class: one "concept" per class, no twins, and a generic
caption used as both captions ("a photo of a sneaker, a kind of shoe."). The lite-towers preset adds them
to the world's training images to align pretrained towers into a CLIP on real photos. A recipe of the one
driver (publish mode `new`); each image is made only when its shard is written.
"""

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, Publish, build
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.config import BuildConfig, ExtraDataConfig, ShardImageConfig, dump_config
from cultureclip.data.mnist_idx import FASHION_MNIST_KINDS, ClassDataset, load_fashion_mnist
from cultureclip.data.row import dataset_row
from cultureclip.data.sample import draw
from cultureclip.data.text import article

IMPORT_RECORD = "import_config.yaml"
SHARD_SIZE = 5000
LOSSLESS = ShardImageConfig(format="png")
"""28-px greyscale photos: PNG keeps them exact at about JPEG's size."""


@dataclass(frozen=True)
class Photo:
    """Photo `index` of `data`, made when its shard is written."""

    data: ClassDataset
    index: int

    def read(self) -> Image.Image:
        return self.data.image(self.index)


def photo_rows(data: ClassDataset, indices: list[int], template: str) -> list[dict]:
    """Photos of `data` as kept training rows of the train split, captioned with `template` ({c}, {a}, {kind})."""
    rows = []
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
        rows.append(row | {"png": Photo(data, int(i)), "status": "kept"})
    return rows


class FashionMnistRecipe:
    """`spec.count` train photos of Fashion-MNIST, drawn with the job's seed."""

    publish = Publish("new", "import fashion_mnist", IMPORT_RECORD)

    def __init__(self, spec: ExtraDataConfig):
        self.spec = spec

    def record(self, job: BuildJob) -> str:
        return f"seed: {job.seed}\n" + dump_config(self.spec)

    def check(self, job: BuildJob) -> None:
        """Nothing to check before the work starts (the reader names a missing file)."""

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        data = load_fashion_mnist(self.spec.path, "train")
        indices = draw(self.spec.count, len(data), job.seed).tolist()
        rows = photo_rows(data, indices, self.spec.template)
        return Built(rows, summary=f"imported {len(rows)} Fashion-MNIST photos")


def import_fashion_mnist(spec: ExtraDataConfig, folder: Path, seed: int) -> Path:
    """Write `spec.count` train photos (drawn with `seed`) into `folder` as a train split; skip if done."""
    job = BuildJob(BuildConfig(shard_size=SHARD_SIZE, shard_images=LOSSLESS), seed)
    return build(BUILD_RECIPES.create("fashion_mnist", spec), job, Path(folder))
