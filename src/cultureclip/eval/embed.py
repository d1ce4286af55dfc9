"""Encode images and prompts with one model: cached by key (see cache.py), batched, under `torch.inference_mode`,
with dataloader workers decoding (a JPEG at no more than the model's size, see `data.decode`) and preprocessing
images in parallel into uint8 pixels, pinned for the copy and normalised on the model's device."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from rich.progress import Progress
from torch.utils.data import DataLoader, Dataset

from cultureclip.backends.clip import ClipModel
from cultureclip.data.decode import decode_at_least, default_workers, prefetch_factor
from cultureclip.eval.cache import EmbeddingCache, text_key
from cultureclip.eval.datasets.base import UNREADABLE, ImageRef
from cultureclip.runtime import autocast

log = logging.getLogger(__name__)


class _Decode(Dataset):
    """Decode and preprocess images to uint8; an unreadable one yields its reason instead of pixels."""

    def __init__(self, refs: list[ImageRef], to_uint8, side: int):
        self.refs, self.to_uint8, self.side = refs, to_uint8, side

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int):
        try:
            with self.refs[i].open() as image:
                return i, self.to_uint8([decode_at_least(image, self.side)])[0], None  # it converts to RGB, once
        except UNREADABLE as err:
            return i, None, _reason(err)


def _reason(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unreadable'}"


def _collate(batch):
    good = [(i, x) for i, x, _ in batch if x is not None]
    failed = {i: reason for i, _, reason in batch if reason is not None}
    pixels = torch.stack([x for _, x in good]) if good else None
    return [i for i, _ in good], pixels, failed


class Encoder:
    """One model's image and text embeddings (L2-normalised), from the cache when there."""

    def __init__(
        self, model: ClipModel, cache: EmbeddingCache, batch_size: int, workers: int | None = None, precision="fp32"
    ):
        self.model, self.cache = model, cache
        self.batch_size, self.workers = batch_size, default_workers() if workers is None else workers
        self.encoded = {"images": 0, "texts": 0}
        self.model.model.eval()
        self.precision = precision
        """The towers' autocast precision (`runtime.resolve_precision`); the vectors come out in fp32."""

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.inference_mode()
    def texts(self, texts: list[str]) -> torch.Tensor:
        keys = [text_key(t) for t in texts]
        missing = sorted(set(range(len(texts))) - set(self.cache.get(keys)))
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            tokens = self.model.tokenize([texts[i] for i in chunk]).to(self.device)
            with autocast(self.device, self.precision):
                vectors = self.model.encode_texts(tokens)
            self.cache.put([keys[i] for i in chunk], vectors.float())
            self.encoded["texts"] += len(chunk)
        self.cache.flush()
        return _stack(self.cache.get(keys), len(texts))

    @torch.inference_mode()
    def images(
        self, refs: list[ImageRef], alongside: Callable[[], object] | None = None
    ) -> tuple[torch.Tensor, dict[int, str]]:
        """Embeddings of `refs` (zero rows for unreadable images) and {position: reason} of those.

        `alongside` (say, encoding the prompts) runs in a thread while the workers decode; the thread
        starts after the workers are forked, as forking a process that runs threads can deadlock.
        """
        failed: dict[int, str] = {}
        keys: list[str] = []
        for i, ref in enumerate(refs):
            try:
                keys.append(ref.digest())
            except UNREADABLE as err:
                failed[i] = _reason(err)
                keys.append("")
        found = self.cache.get(keys)
        missing = [i for i in range(len(refs)) if i not in found and i not in failed]
        batches = iter(self._loader([refs[i] for i in missing])) if missing else iter(())  # forks before threads
        with ThreadPoolExecutor(1) as pool, Progress(transient=True, disable=not missing) as progress:
            side = pool.submit(alongside) if alongside is not None else None
            bar = progress.add_task("encoding images", total=len(missing))
            for positions, pixels, bad in batches:
                failed.update({missing[j]: reason for j, reason in bad.items()})
                if pixels is not None:
                    pixels = self.model.normalize_pixels(pixels.to(self.device, non_blocking=True))
                    with autocast(self.device, self.precision):
                        vectors = self.model.encode_images(pixels).float()
                    self.cache.put([keys[missing[j]] for j in positions], vectors)
                    self.encoded["images"] += len(positions)
                progress.advance(bar, len(positions) + len(bad))
            if side is not None:
                side.result()
        self.cache.flush()
        if missing:
            log.info("encoded %d of %d images (%d cached)", len(missing), len(refs), len(found))
        rows = self.cache.get([k if i not in failed else "" for i, k in enumerate(keys)])
        return _stack(rows, len(refs)), failed

    def _loader(self, refs: list[ImageRef]) -> DataLoader:
        size = self.model.image_size
        batch_bytes = 3 * size * size * self.batch_size
        return DataLoader(
            _Decode(refs, self.model.images_to_uint8, size),
            self.batch_size,
            num_workers=self.workers,
            collate_fn=_collate,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=prefetch_factor(batch_bytes, self.workers),
        )


def _stack(rows: dict[int, np.ndarray], n: int) -> torch.Tensor:
    width = len(next(iter(rows.values()))) if rows else 0
    out = np.zeros((n, width), dtype=np.float32)
    for i, row in rows.items():
        out[i] = row
    return torch.from_numpy(out)
