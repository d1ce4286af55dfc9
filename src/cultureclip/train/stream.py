"""Training batches streamed from the shards: DataLoader workers make each micro-step's batch whole (its plan
from the sampler, its images read, decoded at the size the model needs and preprocessed to uint8, its texts
tokenized) while the model trains, so no process holds the split and the main process only moves tensors.

Each micro-step's global batch is the sampler's pure function of (seed, index); a rank loads only its share
of it (`distributed.rank_slice`), and a loader started at any index yields exactly what an uninterrupted
one yields from there, crops included: resume stays exact.
"""

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from cultureclip.data.decode import decode_at_least, prefetch_factor
from cultureclip.data.shards import ShardReader, image_member
from cultureclip.train.data import TrainData
from cultureclip.train.distributed import DistInfo, rank_slice
from cultureclip.train.sampler import Batch

TEXT_FIELDS = ("caption", "generic_caption", "name")
"""What a training sample reads from its row, besides its image."""
CROP_SCALE = (0.9, 1.0)
"""Share of the image area a random resized crop keeps (open_clip's training default)."""
CROP_MARGIN = 1.25
"""How much larger than the crop size a JPEG is decoded for a random resized crop (its crop may keep
0.9 of the area at an aspect of 3/4: sides down to 0.82 of the image's)."""

Item = tuple[int, int, int]
"""(micro-step index, row, crop seed): what the batch plan asks a dataset for."""


class Step(NamedTuple):
    """One micro-step of the plan: its index, its global batch's pair count and this rank's items."""

    index: int
    pairs: int
    items: list[Item]


class ShardSamples(Dataset):
    """Samples read by location from their shards: uint8 pixels and the row's texts.

    `to_uint8` is the model's preprocessing (PIL images -> uint8 pixels, `ClipModel.images_to_uint8`); a JPEG
    is decoded at no less than `image_size` (`decode_at_least`). With `augment_size`, each image is first
    randomly resized-cropped to that size with the item's own seed.
    """

    def __init__(
        self,
        data: TrainData,
        to_uint8: Callable[[list[Image.Image]], Tensor],
        augment_size: int = 0,
        image_size: int = 0,
    ):
        self.data, self.to_uint8, self.augment_size = data, to_uint8, augment_size
        self.decode_side = int(augment_size * CROP_MARGIN) if augment_size else image_size
        self.reader = ShardReader()

    def __getitem__(self, item: Item) -> tuple[int, int, Tensor, dict[str, str]]:
        index, row, crop_seed = item
        d = self.data
        shard = d.shards[d.shard[row]]
        members = self.reader.read(shard, int(d.offset[row]), int(d.length[row]))
        image = decode_at_least(Image.open(io.BytesIO(image_member(members, shard))), self.decode_side)
        if self.augment_size:
            image = random_resized_crop(image, self.augment_size, crop_seed)
        meta = json.loads(members["json"])
        return index, row, self.to_uint8([image])[0], {k: meta.get(k) for k in TEXT_FIELDS}

    def __len__(self) -> int:
        return len(self.data)


class InMemorySamples(Dataset):
    """Samples from uint8 pixels already in memory (for benchmarks: the loader's cost without reading shards)."""

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


class BatchPlan(Sequence[Step]):
    """This rank's share of micro-steps `start`, `start` + 1, ..., `stop` - 1 (items: pos then neg), each made
    when a loader worker asks for it (the sampler runs in the workers, not in the main process)."""

    def __init__(self, sampler: Callable[[int], Batch], dist: DistInfo, seed: int, start: int, stop: int):
        self.sampler, self.dist, self.seed, self.start, self.stop = sampler, dist, seed, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, k: int) -> Step:
        if not 0 <= k < len(self):
            raise IndexError(k)
        index = self.start + k
        batch = self.sampler(index)
        sides = [batch.pos] if batch.neg is None else [batch.pos, batch.neg]
        seeds = np.random.default_rng([self.seed, index, 2]).integers(2**31, size=(len(sides), len(batch.pos)))
        share, _ = rank_slice(len(batch.pos), self.dist)
        rows = np.concatenate([side[share] for side in sides])
        crops = np.concatenate([s[share] for s in seeds])
        return Step(index, len(batch.pos), [(index, int(r), int(c)) for r, c in zip(rows, crops, strict=True)])


@dataclass
class Loaded:
    """One micro-step's share, as loaded: rows (pos then neg), their uint8 pixels, their texts by field, the
    global batch's pair count, and (where the loader tokenizes) the token sets with each text group's rows."""

    index: int
    pairs: int
    rows: np.ndarray
    pixels: Tensor
    texts: dict[str, list[str]]
    tokens: tuple[list[Tensor], dict[str, list[int]]] | None = None

    def pin_memory(self) -> "Loaded":
        self.pixels = self.pixels.pin_memory()
        return self


class StepBatches(Dataset):
    """Each step of `plan` as one `Loaded` batch, made whole in a loader worker: its items read from
    `samples`, their pixels stacked, their texts tokenized by `tokenize` (where given)."""

    def __init__(self, samples: Dataset, plan: Sequence[Step], tokenize: Callable[["Loaded"], tuple] | None = None):
        self.samples, self.plan, self.tokenize = samples, plan, tokenize

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> Loaded:
        step = self.plan[k]
        _, rows, pixels, texts = zip(*(self.samples[item] for item in step.items), strict=True)
        fields = {f: [t[f] for t in texts] for f in TEXT_FIELDS}
        loaded = Loaded(step.index, step.pairs, np.array(rows), torch.stack(pixels), fields)
        if self.tokenize is not None:
            loaded.tokens = self.tokenize(loaded)
        return loaded


def _as_is(loaded: Loaded) -> Loaded:
    return loaded


def batch_loader(
    samples: Dataset,
    plan: Sequence[Step],
    workers: int,
    pin_memory: bool,
    tokenize: Callable[[Loaded], tuple] | None = None,
) -> DataLoader:
    """A DataLoader of `plan`'s steps, each one `Loaded`, made by `workers` processes; each worker
    prepares as many steps ahead as `decode.prefetch_factor` allows for the batch's pixels."""
    first = plan[0].items if len(plan) else []
    pixels = samples[first[0]][2] if first else torch.zeros(0)
    batch_bytes = pixels.numel() * pixels.element_size() * len(first)
    return DataLoader(
        StepBatches(samples, plan, tokenize),
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        pin_memory=pin_memory,
        prefetch_factor=prefetch_factor(batch_bytes, workers),
    )
