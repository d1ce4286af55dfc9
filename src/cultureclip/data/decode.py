"""Feeding a model from stored images: decode no more pixels than the model needs, ship uint8, size the loader.

A JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides at least the model's input
size (PIL's `draft`: the decoder skips the detail the resize would throw away; 4.7x faster than PNG at 512 px
against 3.5x for torchvision's `decode_jpeg` plus a tensor resize, which would also change the resampling;
see `benchmarks/data_path.py`). The model's own transform then runs on the decoded image, so pixels differ
from a full decode only by the DCT downscale. Loader workers hand over uint8 pixels (a quarter of float32's
bytes in flight); the model normalises them on its device (`ClipModel.normalize_pixels`).
"""

import os

from PIL import Image

PREFETCH_BYTES = 2**31
"""Pixels a loader may hold ready ahead of the model, all workers together (2 GiB of shared memory)."""


def decode_at_least(image: Image.Image, side: int) -> Image.Image:
    """`image` (opened, not yet loaded) set to decode a JPEG at the smallest DCT scale keeping both sides
    >= `side`; any other format as it is."""
    if image.format == "JPEG" and side > 0:
        image.draft(None, (side, side))
    return image


def default_workers() -> int:
    """One loader process per CPU core this process may use, less one (the main process), shared among
    torchrun's local ranks; no cap: a 512-px dataset needs many cores to feed one GPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", 1)) - 1)


def prefetch_factor(batch_bytes: int, workers: int) -> int | None:
    """Batches each worker prepares ahead: as many as `PREFETCH_BYTES` holds (1 to 4); None without workers."""
    if not workers:
        return None
    return max(1, min(4, PREFETCH_BYTES // max(1, batch_bytes * workers)))
