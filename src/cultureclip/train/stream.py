"""Training batches streamed from the shards: DataLoader workers read, decode and preprocess each batch's
images (and read its texts) while the model trains, so no process ever holds the split.

Each micro-step's global batch is the sampler's pure function of (seed, index); a rank loads only its share
of it (`distributed.rank_slice`), and a loader started at any index yields exactly what an uninterrupted
one yields from there, crops included: resume stays exact.
"""

import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from cultureclip.data.shards import ShardReader
from cultureclip.train.data import TrainData
from cultureclip.train.distributed import DistInfo, rank_slice
from cultureclip.train.sampler import Batch

TEXT_FIELDS = ("caption", "generic_caption", "name")
"""What a training sample reads from its row, besides its image."""
CROP_SCALE = (0.9, 1.0)
"""Share of the image area a random resized crop keeps (open_clip's training default)."""

Item = tuple[int, int, int]
"""(micro-step index, row, crop seed): what the batch plan asks a dataset for."""


class ShardSamples(Dataset):
    """Samples read by location from their shards: preprocessed pixels and the row's texts.

    `to_tensor` is the model's preprocessing (PIL images -> pixel tensor); with `augment_size`, each image
    is first randomly resized-cropped to that size with the item's own seed.
    """

    def __init__(self, data: TrainData, to_tensor: Callable[[list[Image.Image]], Tensor], augment_size: int = 0):
        self.data, self.to_tensor, self.augment_size = data, to_tensor, augment_size
        self.reader = ShardReader()

    def __getitem__(self, item: Item) -> tuple[int, int, Tensor, dict[str, str]]:
        index, row, crop_seed = item
        d = self.data
        members = self.reader.read(d.shards[d.shard[row]], int(d.offset[row]), int(d.length[row]))
        image = Image.open(io.BytesIO(members["png"]))  # to_tensor converts it to RGB
        if self.augment_size:
            image = random_resized_crop(image, self.augment_size, crop_seed)
        meta = json.loads(members["json"])
        return index, row, self.to_tensor([image])[0], {k: meta.get(k) for k in TEXT_FIELDS}

    def __len__(self) -> int:
        return len(self.data)


class InMemorySamples(Dataset):
    """Samples from tensors already in memory (for benchmarks: the loader's cost without reading shards)."""

    def __init__(self, pixels: Tensor, texts: list[dict[str, str]]):
        self.pixels, self.texts = pixels, texts

    def __getitem__(self, item: Item) -> tuple[int, int, Tensor, dict[str, str]]:
        index, row, _ = item
        return index, row, self.pixels[row], self.texts[row]

    def __len__(self) -> int:
        return len(self.pixels)


def random_resized_crop(image: Image.Image, size: int, seed: int) -> Image.Image:
    """open_clip's training crop (torchvision's RandomResizedCrop, bicubic), drawn from `seed` alone."""
    from torchvision.transforms import InterpolationMode, RandomResizedCrop

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RandomResizedCrop(size, scale=CROP_SCALE, interpolation=InterpolationMode.BICUBIC)(image)


class BatchPlan:
    """The items of this rank's share of micro-steps `start`, `start` + 1, ..., `stop` - 1: pos then neg."""

    def __init__(self, sampler: Callable[[int], Batch], dist: DistInfo, seed: int, start: int, stop: int):
        self.sampler, self.dist, self.seed, self.start, self.stop = sampler, dist, seed, start, stop

    def __iter__(self) -> Iterator[list[Item]]:
        for index in range(self.start, self.stop):
            yield self.items(index)

    def __len__(self) -> int:
        return self.stop - self.start

    def items(self, index: int) -> list[Item]:
        batch = self.sampler(index)
        sides = [batch.pos] if batch.neg is None else [batch.pos, batch.neg]
        seeds = np.random.default_rng([self.seed, index, 2]).integers(2**31, size=(len(sides), len(batch.pos)))
        share, _ = rank_slice(len(batch.pos), self.dist)
        rows = np.concatenate([side[share] for side in sides])
        crops = np.concatenate([s[share] for s in seeds])
        return [(index, int(r), int(c)) for r, c in zip(rows, crops, strict=True)]


@dataclass
class Loaded:
    """One micro-step's share, as loaded: rows (pos then neg), their pixels and their texts by field."""

    index: int
    rows: np.ndarray
    pixels: Tensor
    texts: dict[str, list[str]]

    def pin_memory(self) -> "Loaded":
        self.pixels = self.pixels.pin_memory()
        return self


def collate(samples: list[tuple[int, int, Tensor, dict[str, str]]]) -> Loaded:
    index, rows, pixels, texts = zip(*samples, strict=True)
    return Loaded(index[0], np.array(rows), torch.stack(pixels), {k: [t[k] for t in texts] for k in TEXT_FIELDS})


def batch_loader(samples: Dataset, plan: Iterable[list[Item]], workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader of `plan`'s batches of items, each one `Loaded`, prepared by `workers` processes."""
    return DataLoader(
        samples,
        batch_sampler=plan,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers else None,
    )


def default_workers() -> int:
    """One loader process per CPU core this process may use, less one, shared among torchrun's local ranks."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", 1)) - 1))
