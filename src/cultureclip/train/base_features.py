"""The frozen starting model's embeddings of the training rows, for the feature-distillation term.

The base never trains and a row's image and generic caption are fixed, so its base embeddings are a pure
function of the row: they are computed once, before the first step, for the rows this rank's share of
the run's batches holds, in fixed chunks of those rows in row order, streamed from the shards like the
training batches. The values so depend on neither the step order nor where a run resumed (a resumed run
recomputes the same chunks: bit-exact), and they are kept in a memory-mapped file, not in memory.
"""

import tempfile

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from cultureclip.backends.clip import ClipModel
from cultureclip.train.stream import Step, batch_loader


class BaseFeatures:
    """Base image and generic-caption embeddings of `rows` (sorted, distinct), looked up by row index."""

    def __init__(
        self,
        base: ClipModel,
        samples: Dataset,
        rows: np.ndarray,
        normalize: bool,
        device: torch.device,
        chunk: int,
        workers: int,
    ):
        self.rows, self.device = rows, device
        chunks = [Step(0, 0, [(0, int(r), 0) for r in rows[i : i + chunk]]) for i in range(0, len(rows), chunk)]
        self.images = self.texts = None
        self._file = tempfile.TemporaryFile(prefix="cultureclip-base-")
        done = 0
        with torch.no_grad():
            loader = batch_loader(samples, chunks, workers, device.type == "cuda")
            for loaded in tqdm(loader, desc="base embeddings", unit="chunk", leave=False, disable=len(chunks) < 20):
                images = base.encode_images(base.normalize_pixels(loaded.pixels.to(device)), normalize)
                tokens = base.tokenize(loaded.texts["generic_caption"]).to(device)
                texts = base.encode_texts(tokens, normalize)
                if self.images is None:
                    self._allocate(images.shape[1], texts.shape[1])
                self.images[done : done + len(images)] = images.float().cpu().numpy()
                self.texts[done : done + len(texts)] = texts.float().cpu().numpy()
                done += len(images)

    def _allocate(self, image_dim: int, text_dim: int) -> None:
        n = len(self.rows)
        store = np.memmap(self._file, dtype=np.float32, mode="w+", shape=(n * (image_dim + text_dim),))
        self.images = store[: n * image_dim].reshape(n, image_dim)
        self.texts = store[n * image_dim :].reshape(n, text_dim)

    def __call__(self, index: np.ndarray) -> tuple[Tensor, Tensor]:
        """(image, generic caption) embeddings of the rows `index`."""
        at = np.searchsorted(self.rows, index).clip(max=len(self.rows) - 1)
        if not np.array_equal(self.rows[at], index):
            raise ValueError("base embeddings asked for rows outside the run's batches")
        return (torch.from_numpy(self.images[at]).to(self.device), torch.from_numpy(self.texts[at]).to(self.device))
